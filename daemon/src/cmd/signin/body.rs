//! The body a mobile app posts to 4D's `$authenticate`, checked:
//! `{"email","password","send","application":{"id","name","version"},
//! "team":{"id","name"},"language":{…},"device":{"id","description",…},
//! "parameters":{…},"session":{"ip"}}` (`team` and `send` absent on Android).
//!
//! What becomes a folder name, a log field or a lookup key is checked here:
//! `application.id`, `team.id` and `device.id` are strings of printable
//! characters, at most [`MAX_ID`] bytes. The rest is stored as sent.

use std::fmt;

use serde_json::{Map, Value};

use crate::cmd::CmdError;
use crate::model::names::{app_folder, is_app_folder_name};

/// The largest body accepted (a real one is well under 2 KiB).
pub const MAX_BODY: usize = 64 * 1024;
/// The longest `application.id`, `team.id` or `device.id`, in bytes.
pub const MAX_ID: usize = 255;

/// A checked sign-in body.
pub struct SignInBody {
    /// The body as sent (BOM removed), `password` included: only the hook
    /// ever sees it.
    raw: String,
    /// The members a session file keeps: the body without `password` and
    /// without what only the daemon sets (`status`, `token`, `userInfo`).
    pub fields: Map<String, Value>,
    pub app_id: String,
    /// `None` when absent or `""` (Android, or an iOS app without a team).
    pub team_id: Option<String>,
    /// `None` when absent or `""`: then every sign-in is a new session.
    pub device_id: Option<String>,
    /// `None` when the body has no `email`.
    pub email: Option<String>,
    /// The app folder: `team.id + "." + application.id`, or the app id alone.
    pub folder: String,
}

impl SignInBody {
    /// The body as sent, for the hook's standard input.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

// The raw body carries the password: never in a log line or a panic.
impl fmt::Debug for SignInBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInBody")
            .field("raw", &format_args!("<{} bytes>", self.raw.len()))
            .field("folder", &self.folder)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// Members of a body never stored as sent.
const NOT_STORED: &[&str] = &["password", "status", "token", "userInfo"];

/// The JSON object of a request body (`$authenticate`, `$userInfo`) at
/// most [`MAX_BODY`] bytes long, and the body without its BOM.
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

/// Checks a `$authenticate` body. Every refusal is a `BadRequest` that
/// names what is wrong.
pub fn parse_body(body: &str) -> Result<SignInBody, CmdError> {
    let (raw, mut fields) = body_object(body)?;
    let app_id = match object(&fields, "application")? {
        Some(app) => id(app.get("id"), "application.id")?,
        None => None,
    }
    .ok_or_else(|| {
        CmdError::bad_request("the request body has no application.id (a non-empty string)")
    })?;
    let team_id = match object(&fields, "team")? {
        Some(team) => id(team.get("id"), "team.id")?,
        None => None,
    };
    let device_id = match object(&fields, "device")? {
        Some(device) => id(device.get("id"), "device.id")?,
        None => None,
    };
    let email = match fields.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(CmdError::bad_request(format!(
                "email must be a string, not {}",
                kind(other)
            )))
        }
    };
    let folder = app_folder(&app_id, team_id.as_deref());
    if !is_app_folder_name(&folder) {
        return Err(CmdError::bad_request(format!(
            "application.id and team.id give the folder name {folder:?}, which is not a plain \
             name (no '/', '\\' or NUL, not '.' or '..', not starting with '.', at most 255 bytes)"
        )));
    }
    for key in NOT_STORED {
        fields.remove(*key);
    }
    Ok(SignInBody {
        raw: raw.to_string(),
        fields,
        app_id,
        team_id,
        device_id,
        email,
        folder,
    })
}

/// Member `key` of the body when it is an object; `None` when absent or null.
fn object<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, CmdError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(CmdError::bad_request(format!(
            "{key} must be an object, not {}",
            kind(other)
        ))),
    }
}

/// An identifier of the body: absent, null and `""` are `None`; anything
/// but a short string of printable characters is refused.
fn id(value: Option<&Value>, name: &str) -> Result<Option<String>, CmdError> {
    let s = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(CmdError::bad_request(format!(
                "{name} must be a string, not {}",
                kind(other)
            )))
        }
    };
    if s.len() > MAX_ID {
        return Err(CmdError::bad_request(format!(
            "{name} is {} bytes long; at most {MAX_ID} are accepted",
            s.len()
        )));
    }
    if let Some(c) = s.chars().find(|&c| !is_printable(c)) {
        return Err(CmdError::bad_request(format!(
            "{name} contains U+{:04X}, which is not a printable character (no control characters)",
            u32::from(c)
        )));
    }
    Ok((!s.is_empty()).then(|| s.clone()))
}

/// Not a control character, nor an invisible one that reorders or hides
/// text (bidi overrides, zero-width marks, line separators, a BOM): these
/// names end up in folder names, logs and terminals.
pub(crate) fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

fn kind(v: &Value) -> &'static str {
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
    use serde_json::json;

    fn ios() -> Value {
        json!({
            "email": "zoe@example.com", "password": "hunter2", "send": "link",
            "application": {"name": "Contact", "id": "com.contactApp.Contact", "version": "1.0.0"},
            "team": {"id": "UTT7VDX8W5", "name": "4D"},
            "device": {"id": "DEV-1", "description": "iPhone 15", "version": "17.4", "os": "iOS", "simulator": false, "jb": false},
            "language": {"id": "fr_FR", "code": "fr", "region": "FR"},
            "parameters": {"customer": 42},
            "session": {"ip": "::1"},
            "status": "accepted", "token": "forged", "userInfo": {"admin": true}
        })
    }

    fn err(body: &Value) -> String {
        parse_body(&body.to_string()).unwrap_err().message
    }

    #[test]
    fn ios_body() {
        let b = parse_body(&format!("\u{feff}{}", ios())).unwrap();
        assert_eq!(b.folder, "UTT7VDX8W5.com.contactApp.Contact");
        assert_eq!(b.device_id.as_deref(), Some("DEV-1"));
        assert_eq!(b.email.as_deref(), Some("zoe@example.com"));
        // The hook gets the body as sent; the file never gets the password,
        // nor what only the daemon decides.
        assert!(b.raw().contains("hunter2") && !b.raw().starts_with('\u{feff}'));
        for k in NOT_STORED {
            assert!(!b.fields.contains_key(*k), "{k}");
        }
        assert_eq!(b.fields["parameters"]["customer"], 42);
        assert!(!format!("{b:?}").contains("hunter2"));
    }

    #[test]
    fn android_and_empty_ids() {
        let mut a = ios();
        a.as_object_mut().unwrap().remove("team");
        a["device"]["id"] = "".into();
        let b = parse_body(&a.to_string()).unwrap();
        assert_eq!(
            (b.folder.as_str(), b.team_id, b.device_id),
            ("com.contactApp.Contact", None, None)
        );
        // An iOS app without a team sends "".
        a["team"] = json!({"id": ""});
        a["device"].as_object_mut().unwrap().remove("id");
        let b = parse_body(&a.to_string()).unwrap();
        assert_eq!(
            (b.folder.as_str(), b.team_id, b.device_id),
            ("com.contactApp.Contact", None, None)
        );
    }

    #[test]
    fn clear_errors_naming_the_field() {
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"application": {"id": "a\nb"}}),
                "application.id contains U+000A",
            ),
            (json!({"application": {"id": "a\u{1b}[31m"}}), "U+001B"),
            (json!({"application": {"id": "a\u{202e}b"}}), "U+202E"),
            (
                json!({"application": {"id": "x".repeat(256)}}),
                "application.id is 256 bytes long",
            ),
            (
                json!({"application": {"id": 7}}),
                "application.id must be a string, not a number",
            ),
            (
                json!({"application": {"id": "com.x"}, "team": {"id": 42}}),
                "team.id must be a string, not a number",
            ),
            (
                json!({"application": {"id": "com.x"}, "team": "T"}),
                "team must be an object",
            ),
            (
                json!({"application": {"id": "com.x"}, "device": {"id": ["x"]}}),
                "device.id must be a string, not an array",
            ),
            (
                json!({"application": {"id": "com.x"}, "device": {"id": "\u{7f}"}}),
                "device.id contains U+007F",
            ),
            (
                json!({"application": {"id": "com.x"}, "email": 1}),
                "email must be a string",
            ),
            (json!({"application": {"id": ""}}), "no application.id"),
            (json!({"device": {"id": "x"}}), "no application.id"),
            (json!({"application": {"id": ".."}}), "not a plain name"),
            (json!({"application": {"id": "a/b"}}), "not a plain name"),
            (
                json!({"application": {"id": "x".repeat(200)}, "team": {"id": "t".repeat(200)}}),
                "not a plain name",
            ),
        ];
        for (body, want) in cases {
            let e = err(&body);
            assert!(e.contains(want), "{body}: {e}");
        }
        assert!(parse_body("[1]")
            .unwrap_err()
            .message
            .contains("not a JSON object"));
        assert!(parse_body("{").unwrap_err().message.contains("not JSON"));
        let big = format!(
            "{{\"application\":{{\"id\":\"a\"}},\"p\":\"{}\"}}",
            "x".repeat(MAX_BODY)
        );
        assert!(parse_body(&big)
            .unwrap_err()
            .message
            .contains("at most 65536"));
    }

    #[test]
    fn accepts_long_printable_unicode() {
        let mut b = ios();
        b["device"]["id"] = "é".repeat(127).into(); // 254 bytes
        assert!(parse_body(&b.to_string()).is_ok());
        b["device"]["id"] = "é".repeat(128).into();
        assert!(err(&b).contains("256 bytes"));
    }

    const BODY: &str = r#"{"email":"a@b.c","password":"p","application":{"id":"com.a","version":"1"},"team":{"id":"T"},"device":{"id":"D1","os":"iOS"},"session":{"ip":"::1"}}"#;

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any body, or a real one damaged, parses or is refused; a parsed
        /// one never keeps the password and names a plain folder.
        #[test]
        fn any_body_never_panics(
            body in prop_oneof![
                "(?s).{0,80}",
                proptest::collection::vec((any::<usize>(), any::<char>()), 1..4).prop_map(|edits| {
                    let mut b: Vec<char> = BODY.chars().collect();
                    for (at, c) in edits {
                        let n = b.len();
                        b[at % n] = c;
                    }
                    b.into_iter().collect::<String>()
                }),
            ],
        ) {
            if let Ok(r) = parse_body(&body) {
                prop_assert!(!r.fields.contains_key("password"));
                prop_assert!(!r.app_id.is_empty());
                prop_assert!(crate::model::names::is_app_folder_name(&r.folder));
            }
        }
    }
}
