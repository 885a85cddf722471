//! Local stand-ins for Apple's APNs and Google's FCM, for the tests and
//! the benchmark: HTTP/2 over TLS on 127.0.0.1 with certificates of a CA
//! made at run time, checking credentials as the real services do and
//! recording what they receive. Nothing here reaches the network.

pub mod apns;
pub mod ca;
pub mod fcm;
pub mod keys;
pub mod server;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub use apns::ApnsStandIn;
pub use ca::TestCa;
pub use fcm::FcmStandIn;
pub use server::{Answer, Received};

/// One scripted answer for a device token.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    /// APNs `reason` / Google `status`.
    pub reason: String,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

impl Scripted {
    pub fn new(status: u16, reason: &str) -> Self {
        Self {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    fn answer(&self, mut base: Answer) -> Answer {
        if let Some(s) = self.retry_after {
            base.headers.push(("retry-after".into(), s.to_string()));
        }
        base
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `application/x-www-form-urlencoded` into a map.
pub fn form_decode(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
