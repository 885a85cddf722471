//! Hiding secrets from readers (design §6): the session token and the
//! device's push-notification token.

use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

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
