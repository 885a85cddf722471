//! What a hook answers on its standard output: one JSON object,
//! `{"success":bool,"statusText":string?,"userInfo":object?,"verify":bool?}`.

use serde_json::{Map, Value};

use super::HookError;

/// What a hook answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub success: bool,
    pub status_text: Option<String>,
    pub user_info: Option<Map<String, Value>>,
    /// New sessions start pending.
    pub verify: bool,
}

/// Reads a hook's answer: one JSON object with a boolean `success`, and
/// `statusText` (a string), `userInfo` (an object) and `verify` (a
/// boolean) when present and not null. Other members are ignored.
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, HookError> {
    let bad = |what: &str| HookError::Answer(what.to_string());
    let text = std::str::from_utf8(bytes).map_err(|_| bad("bytes that are not UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| HookError::Answer(format!("something that is not one JSON object ({e})")))?;
    let Value::Object(mut m) = value else {
        return Err(bad("JSON that is not an object"));
    };
    let success = match m.get("success") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(bad("an object without a boolean \"success\"")),
    };
    let status_text = match m.remove("statusText") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("a \"statusText\" that is not a string")),
    };
    let user_info = match m.remove("userInfo") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => return Err(bad("a \"userInfo\" that is not an object")),
    };
    let verify = match m.get("verify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("a \"verify\" that is not a boolean")),
    };
    Ok(Answer {
        success,
        status_text,
        user_info,
        verify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_that_are_not_the_shape() {
        for bad in [
            "",
            "[]",
            "{}",
            "{\"success\":\"yes\"}",
            "{\"success\":true,\"statusText\":1}",
            "{\"success\":true,\"userInfo\":[1]}",
            "{\"success\":true,\"verify\":\"no\"}",
            "{\"success\":true} {\"success\":true}",
            "\u{feff}{\"success\":true}",
        ] {
            assert!(parse_answer(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_answer(b"\xff").is_err());
        let ok =
            parse_answer(b" {\"success\":true,\"statusText\":null,\"userInfo\":null}\n").unwrap();
        assert!(ok.success && ok.user_info.is_none() && ok.status_text.is_none());
    }
}
