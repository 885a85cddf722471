//! What every request body a mobile app sends through the front
//! (`$authenticate`, `$userInfo`) shares: one JSON object of bounded size,
//! and the characters a value that reaches a name, a log or a terminal may
//! hold.

use serde_json::{Map, Value};

use super::CmdError;

/// The largest body accepted (a real one is well under 2 KiB, an iOS
/// sign-in with its DeviceCheck token about 4 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The JSON object of a request body at most [`MAX_BODY`] bytes long, and
/// the body without its BOM.
pub fn body_object(body: &str) -> Result<(&str, Map<String, Value>), CmdError> {
    if body.len() > MAX_BODY {
        return Err(CmdError::bad_request(format!(
            "the request body is {} bytes; at most {MAX_BODY} are accepted",
            body.len()
        )));
    }
    let raw = body.strip_prefix('\u{feff}').unwrap_or(body);
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| CmdError::bad_request(format!("the request body is not JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(CmdError::bad_request(
            "the request body is not a JSON object",
        ));
    };
    Ok((raw, fields))
}

/// Not a control character, nor an invisible one that reorders or hides
/// text (bidi overrides, zero-width marks, line separators, a BOM): these
/// names end up in folder names, logs and terminals.
pub fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// How a JSON value's type reads in an error message.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_only_and_bounded() {
        let (raw, m) = body_object("\u{feff}{\"a\":1}").unwrap();
        assert_eq!((raw, m["a"].as_u64()), ("{\"a\":1}", Some(1)));
        assert!(body_object("[1]")
            .unwrap_err()
            .message
            .contains("not a JSON object"));
        assert!(body_object("{").unwrap_err().message.contains("not JSON"));
        let big = format!("{{\"p\":\"{}\"}}", "x".repeat(MAX_BODY));
        assert!(body_object(&big)
            .unwrap_err()
            .message
            .contains("at most 65536"));
    }

    #[test]
    fn printable() {
        assert!("Zoé 名前 +/=".chars().all(is_printable));
        for c in ['\n', '\u{1b}', '\u{7f}', '\u{202e}', '\u{200b}', '\u{feff}'] {
            assert!(!is_printable(c), "{c:?}");
        }
    }
}
