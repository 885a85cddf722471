//! Black-box tests of mobile-sessiond and mobile-session: see `tests/`.
//! Each test starts the real daemon binary on a temporary data dir and drives
//! it through the real client binary, the client library or a raw socket.
//!
//! The library itself is [`fixtures`]: what those tests share with the
//! daemon's unit tests.

pub mod fixtures;
