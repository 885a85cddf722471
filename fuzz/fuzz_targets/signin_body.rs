//! The body a mobile app posts to `$authenticate`, as the daemon parses it
//! before anything touches a file.
#![no_main]

use libfuzzer_sys::fuzz_target;
// To repoint once the rewritten parser lands elsewhere under `cmd`.
use mobile_sessiond::cmd::authenticate::parse_body;

fuzz_target!(|data: &[u8]| {
    // The body reaches the daemon as a `String` inside a decoded frame.
    let body = String::from_utf8_lossy(data);
    let _ = parse_body(&body);
});
