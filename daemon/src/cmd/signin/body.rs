//! The body a mobile app posts to 4D's `$authenticate`, checked:
//! `{"email","password","send","application":{"id","name","version"},
//! "team":{"id","name"},"language":{…},"device":{"id","description",…},
//! "parameters":{…}}` (`team` and `send` absent on Android).
//!
//! What becomes a folder name is checked here: `application.id` and
//! `team.id` are strings of printable characters, at most [`MAX_ID`] bytes.
//! `device.id` is only a lookup key, and iOS sends a DeviceCheck token there
//! (base64 of about 2 KiB): any string without control characters, at most
//! [`MAX_DEVICE_ID`] bytes. A `session` object the app sends is dropped: the
//! daemon sets the session's id and the IP the front saw. The rest is
//! stored as sent.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::cmd::body::{body_object, is_printable, kind};
use crate::cmd::CmdError;
use crate::model::names::{app_folder, is_app_folder_name};

/// The longest `application.id` or `team.id`, in bytes: they make a
/// folder name.
pub const MAX_ID: usize = 255;
/// The longest `device.id`, in bytes.
pub const MAX_DEVICE_ID: usize = 8 * 1024;
/// The longest IP given with a sign-in (an IPv6 address with a zone).
const MAX_IP: usize = 64;

/// A checked sign-in body.
pub struct SignInBody {
    /// The body as sent (BOM removed), `password` included: only the hook
    /// ever sees it.
    raw: String,
    /// The members a session file keeps: the body without `password`,
    /// without what only the daemon sets (`status`, `token`, `userInfo`,
    /// `session`).
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
    /// The body as sent, with `session` set to `session` (in its place when
    /// the app sent one, else last): the hook's standard input.
    pub fn with_session(&self, session: Value) -> String {
        let mut doc: Map<String, Value> = serde_json::from_str(&self.raw).unwrap_or_default();
        doc.insert("session".into(), session);
        Value::Object(doc).to_string()
    }
}

// The raw body carries the password: never in a log line or a panic.
impl fmt::Debug for SignInBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInBody")
            .field("raw", &format_args!("<{} bytes>", self.raw.len()))
            .field("folder", &self.folder)
            .field(
                "device_id",
                &self
                    .device_id
                    .as_ref()
                    .map(|d| format!("<{} bytes>", d.len())),
            )
            .finish_non_exhaustive()
    }
}

/// Members of a body never stored as sent.
const NOT_STORED: &[&str] = &["password", "status", "token", "userInfo", "session"];

/// Checks the IP address the front saw for a sign-in: an IPv4 or IPv6
/// address as the web server reports it (`::ffff:192.168.5.4`, `fe80::1%eth0`).
pub fn check_ip(ip: &str) -> Result<(), CmdError> {
    let bad = || {
        CmdError::bad_request(format!(
            "the sign-in's ip {:?} is not an IP address (e.g. 192.168.5.4 or ::ffff:192.168.5.4)",
            ip.chars().take(MAX_IP).collect::<String>()
        ))
    };
    if ip.len() > MAX_IP {
        return Err(bad());
    }
    let (addr, zone) = match ip.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (ip, None),
    };
    match (addr.parse::<IpAddr>(), zone) {
        (Ok(_), None) => Ok(()),
        (Ok(IpAddr::V6(_)), Some(z))
            if !z.is_empty()
                && z.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(bad()),
    }
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
        Some(device) => device_id(device.get("id"))?,
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

/// An identifier that becomes part of a folder name: absent, null and
/// `""` are `None`; anything but a short string of printable characters is
/// refused.
fn id(value: Option<&Value>, name: &str) -> Result<Option<String>, CmdError> {
    let Some(s) = string(value, name)? else {
        return Ok(None);
    };
    too_long(s, name, MAX_ID)?;
    if let Some(c) = s.chars().find(|&c| !is_printable(c)) {
        return Err(not_printable(name, c));
    }
    Ok((!s.is_empty()).then(|| s.clone()))
}

/// `device.id`: a lookup key only, stored byte for byte. iOS sends the
/// base64 of a DeviceCheck token (`+`, `/`, `=`, about 2 700 characters).
fn device_id(value: Option<&Value>) -> Result<Option<String>, CmdError> {
    let name = "device.id";
    let Some(s) = string(value, name)? else {
        return Ok(None);
    };
    too_long(s, name, MAX_DEVICE_ID)?;
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(not_printable(name, c));
    }
    Ok((!s.is_empty()).then(|| s.clone()))
}

/// A string member, or `None` when absent or null.
fn string<'v>(value: Option<&'v Value>, name: &str) -> Result<Option<&'v String>, CmdError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(CmdError::bad_request(format!(
            "{name} must be a string, not {}",
            kind(other)
        ))),
    }
}

fn too_long(s: &str, name: &str, max: usize) -> Result<(), CmdError> {
    if s.len() > max {
        return Err(CmdError::bad_request(format!(
            "{name} is {} bytes long; at most {max} are accepted",
            s.len()
        )));
    }
    Ok(())
}

fn not_printable(name: &str, c: char) -> CmdError {
    CmdError::bad_request(format!(
        "{name} contains U+{:04X}, which is not a printable character (no control characters)",
        u32::from(c)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::body::MAX_BODY;
    use serde_json::json;

    fn ios() -> Value {
        json!({
            "email": "zoe@example.com", "password": "hunter2", "send": "link",
            "application": {"name": "Contact", "id": "com.contactApp.Contact", "version": "1.0.0"},
            "team": {"id": "UTT7VDX8W5", "name": "4D"},
            "device": {"id": "DEV-1", "description": "iPhone 15", "version": "17.4", "os": "iOS", "simulator": false, "jb": false},
            "language": {"id": "fr_FR", "code": "fr", "region": "FR"},
            "parameters": {"customer": 42},
            "session": {"ip": "6.6.6.6", "role": "admin"},
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
        let hook = b.with_session(json!({}));
        assert!(hook.contains("hunter2") && !hook.starts_with('\u{feff}'));
        for k in NOT_STORED {
            assert!(!b.fields.contains_key(*k), "{k}");
        }
        assert_eq!(b.fields["parameters"]["customer"], 42);
        assert!(!format!("{b:?}").contains("hunter2"));
    }

    #[test]
    fn the_hook_gets_the_body_with_the_daemons_session() {
        let b = parse_body(&ios().to_string()).unwrap();
        let facts = json!({"id": "ab12", "ip": "10.0.0.1", "status": null});
        let seen: Value = serde_json::from_str(&b.with_session(facts.clone())).unwrap();
        assert_eq!(seen["session"], facts);
        assert_eq!(seen["password"], "hunter2");
        // In its place: the body's order is kept.
        let keys: Vec<&String> = seen.as_object().unwrap().keys().collect();
        let sent = ios();
        let want: Vec<&String> = sent.as_object().unwrap().keys().collect();
        assert_eq!(keys, want);
        // Appended when the app sent none.
        let mut a = ios();
        a.as_object_mut().unwrap().remove("session");
        let b = parse_body(&a.to_string()).unwrap();
        let seen: Value = serde_json::from_str(&b.with_session(facts.clone())).unwrap();
        assert_eq!(
            seen.as_object().unwrap().keys().next_back().unwrap(),
            "session"
        );
    }

    #[test]
    fn ips() {
        for ok in [
            "192.168.5.4",
            "::ffff:192.168.5.4",
            "::1",
            "2001:db8::7",
            "fe80::1%eth0",
        ] {
            assert!(check_ip(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "6.6.6",
            "localhost",
            "10.0.0.1:443",
            "[::1]",
            "10.0.0.1%eth0",
            "fe80::1%",
            "fe80::1%a b",
            " 10.0.0.1",
            &"1".repeat(100),
        ] {
            let e = check_ip(bad).unwrap_err();
            assert!(e.message.contains("is not an IP address"), "{bad}: {e}");
        }
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
                json!({"application": {"id": "com.x"}, "device": {"id": "a\nb"}}),
                "device.id contains U+000A",
            ),
            (
                json!({"application": {"id": "com.x"}, "device": {"id": "d".repeat(MAX_DEVICE_ID + 1)}}),
                "device.id is 8193 bytes long; at most 8192",
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
        b.as_object_mut().unwrap().remove("team");
        b["application"]["id"] = "é".repeat(127).into(); // 254 bytes
        assert!(parse_body(&b.to_string()).is_ok());
        b["application"]["id"] = "é".repeat(128).into();
        assert!(err(&b).contains("256 bytes"));
    }

    #[test]
    fn a_device_id_is_a_key_of_up_to_8_kib_kept_byte_for_byte() {
        // What iOS sends: the base64 of a DeviceCheck token.
        let check = format!("A+/A{}Zg==", "Zm9v".repeat(681));
        assert_eq!(check.len(), 2_732);
        for id in [check, "d".repeat(MAX_DEVICE_ID), "é\u{202e}名".repeat(100)] {
            let mut b = ios();
            b["device"]["id"] = id.clone().into();
            let parsed = parse_body(&b.to_string()).unwrap();
            assert_eq!(parsed.device_id.as_deref(), Some(id.as_str()));
            assert_eq!(parsed.fields["device"]["id"], id.as_str());
            assert!(!format!("{parsed:?}").contains(&id));
        }
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
                prop_assert!(!r.fields.contains_key("session"));
                prop_assert!(!r.app_id.is_empty());
                prop_assert!(crate::model::names::is_app_folder_name(&r.folder));
            }
        }
    }
}
