//! The body a mobile app posts to `$authenticate`, as the daemon parses it
//! before anything touches a file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobile_sessiond::cmd::signin::parse_body;

fuzz_target!(|data: &[u8]| {
    // The body reaches the daemon as a `String` inside a decoded frame.
    let body = String::from_utf8_lossy(data);
    if let Ok(b) = parse_body(&body) {
        // What a session file would keep never holds the password, and a
        // parsed body names an app and a plain folder.
        assert!(!b.fields.contains_key("password"));
        assert!(!b.app_id.is_empty() && !b.folder.is_empty());
    }
});
