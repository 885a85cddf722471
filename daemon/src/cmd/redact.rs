//! Hiding secrets from readers: the session token (a bearer credential) and
//! the device's push-notification token. Only the commands decide when.

use serde_json::Value;

pub use mobile_session_proto::REDACTED;

pub fn device(device: &mut Value) {
    if let Some(t) = device.get_mut("token") {
        *t = Value::String(REDACTED.to_string());
    }
}

/// Redacts a whole session document.
pub fn session(doc: &mut Value) {
    if let Some(t) = doc.get_mut("token") {
        *t = Value::String(REDACTED.to_string());
    }
    if let Some(d) = doc.get_mut("device") {
        device(d);
    }
}
