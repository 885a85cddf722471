//! What a push service's answer means for one device.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Sent,
    /// The token is gone for good (APNs 410 or `BadDeviceToken`, FCM
    /// `UNREGISTERED`): it is removed from the session file.
    Gone(String),
    /// Try again later (429, 5xx).
    Again {
        reason: String,
        after: Option<Duration>,
    },
    /// APNs called the provider token expired.
    Expired,
    /// FCM refused the access token: fetch a new one.
    Unauthenticated(String),
    /// The credentials are refused (403): a configuration error.
    Config(String),
    /// Refused for this device only, for good.
    Failed(String),
}

/// `Retry-After` of an answer, if any.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    super::retry::parse_retry_after(v, super::jwt::unix_now())
}

/// `"status reason"`, e.g. `"410 Unregistered"`.
pub fn label(status: u16, reason: &str) -> String {
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}
