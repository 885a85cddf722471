//! What a sign-in writes: a new session file, or the members a sign-in
//! again changes in an existing one — pure, no I/O.
//!
//! Signing in again keeps the id and the token and changes only: each key of
//! `device` the request has (keys it lacks — the push token `device.token`
//! above all, which only `user-info` brings — are kept), `email`,
//! `language`, `application.version`, `parameters` (replaced when present),
//! `session.ip` (when the front gave one), `userInfo` (from the decision)
//! and `status`. The caller applies these edits in place, so every other
//! byte of the file stays.
//!
//! `session` is the daemon's: its `id` and the IP the front saw. Whatever
//! the app sent there never reaches a file.

use mobile_session_proto::Status;
use serde_json::{Map, Value};

use super::body::SignInBody;
use crate::cmd::edit::{lookup, Edit};

/// Keys a new file starts with, in the order 4D writes them.
const LEADING_KEYS: &[&str] = &["application", "team", "language", "email", "device", "send"];

/// What the daemon writes of a sign-in besides the body.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    pub status: Status,
    /// The IP the front saw, when it gave one.
    pub ip: Option<&'a str>,
    pub user_info: Option<&'a Map<String, Value>>,
}

/// The text of a new session file (pretty, as 4D writes them).
pub fn new_file(body: &SignInBody, id: &str, token: &str, w: Written<'_>) -> Vec<u8> {
    let mut doc = Map::new();
    for key in LEADING_KEYS {
        if let Some(v) = body.fields.get(*key) {
            doc.insert((*key).to_string(), v.clone());
        }
    }
    if !doc.contains_key("email") {
        doc.insert("email".into(), Value::String(String::new()));
    }
    let mut session = Map::new();
    session.insert("id".into(), Value::String(id.to_string()));
    if let Some(ip) = w.ip {
        session.insert("ip".into(), Value::String(ip.to_string()));
    }
    doc.insert("session".into(), Value::Object(session));
    doc.insert("status".into(), Value::String(w.status.as_str().into()));
    doc.insert("token".into(), Value::String(token.into()));
    // Everything else the app sent (`parameters`, what a future SDK adds).
    for (k, v) in &body.fields {
        if !doc.contains_key(k) {
            doc.insert(k.clone(), v.clone());
        }
    }
    if let Some(u) = w.user_info {
        doc.insert("userInfo".into(), Value::Object(u.clone()));
    }
    let doc = Value::Object(doc);
    // Writing a `Value` cannot fail; compact would do if it did.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string());
    text.push('\n');
    text.into_bytes()
}

/// The members a sign-in again sets in the file `current` (parsed), each
/// only where its value differs.
pub fn again_edits<'a>(body: &'a SignInBody, current: &Value, w: Written<'_>) -> Vec<Edit<'a>> {
    let mut edits = Vec::new();
    let mut set = |path: Vec<&'a str>, value: &Value| {
        if value.is_null() || lookup(current, &path) == Some(value) {
            return;
        }
        edits.push((path, value.clone()));
    };
    if let Some(Value::Object(device)) = body.fields.get("device") {
        for (k, v) in device {
            set(vec!["device", k.as_str()], v);
        }
    }
    for key in ["email", "language", "parameters"] {
        if let Some(v) = body.fields.get(key) {
            set(vec![key], v);
        }
    }
    if let Some(v) = body
        .fields
        .get("application")
        .and_then(|a| a.get("version"))
    {
        set(vec!["application", "version"], v);
    }
    if let Some(ip) = w.ip {
        set(vec!["session", "ip"], &Value::String(ip.to_string()));
    }
    if let Some(u) = w.user_info {
        set(vec!["userInfo"], &Value::Object(u.clone()));
    }
    set(vec!["status"], &Value::String(w.status.as_str().into()));
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::signin::body::parse_body;
    use crate::model::session::{validate, with_members};
    use crate::model::token;
    use serde_json::json;

    const FOLDER: &str = "UTT7VDX8W5.com.contactApp.Contact";
    const ID: &str = "a6a3a4506513270e269e0d37f2a74de452e6b438";

    fn body(v: Value) -> SignInBody {
        parse_body(&v.to_string()).unwrap()
    }

    fn ios() -> Value {
        json!({
            "email": "zoe@example.com", "password": "hunter2", "send": "link",
            "application": {"name": "Contact", "id": "com.contactApp.Contact", "version": "2.0"},
            "team": {"id": "UTT7VDX8W5", "name": "4D"},
            "device": {"id": "A1B2C3D4-0000-4000-8000-1234567890AB", "description": "iPad", "version": "18.0", "os": "iPadOS", "simulator": false, "jb": false},
            "language": {"id": "fr_FR", "code": "fr", "region": "FR"},
            "parameters": {"customer": 42},
            "session": {"ip": "6.6.6.6", "id": "ffff", "role": "admin"}
        })
    }

    fn written<'a>(
        status: Status,
        ip: Option<&'a str>,
        user_info: Option<&'a Map<String, Value>>,
    ) -> Written<'a> {
        Written {
            status,
            ip,
            user_info,
        }
    }

    #[test]
    fn a_new_file_is_valid_and_holds_no_password() {
        let b = body(ios());
        let token = token::encode(&b.app_id, ID, b.team_id.as_deref());
        let info = json!({"name": "Zoé"});
        let bytes = new_file(
            &b,
            ID,
            &token,
            written(Status::Pending, Some("::1"), info.as_object()),
        );
        let rec = validate(FOLDER, ID, &bytes).unwrap();
        assert_eq!(rec.status, Status::Pending);
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("password"));
        assert!(text.starts_with("{\n  \"application\"") && text.ends_with("}\n"));
        let doc: Value = serde_json::from_str(&text).unwrap();
        // The daemon's session: nothing the app sent there.
        assert_eq!(doc["session"], json!({"id": ID, "ip": "::1"}));
        assert!(!text.contains("6.6.6.6") && !text.contains("admin"));
        assert_eq!(doc["userInfo"], info);
        assert_eq!(doc["parameters"]["customer"], 42);
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "application",
                "team",
                "language",
                "email",
                "device",
                "send",
                "session",
                "status",
                "token",
                "parameters",
                "userInfo"
            ]
        );
        // No ip given: none stored.
        let bytes = new_file(&b, ID, &token, written(Status::Accepted, None, None));
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["session"], json!({"id": ID}));
    }

    #[test]
    fn sign_in_again_keeps_the_push_token_and_every_unknown_byte() {
        let original = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/Data/MobileApps")
                .join(FOLDER)
                .join(ID),
        )
        .unwrap();
        let mut file = original.clone();
        // A member no version of 4D wrote yet, and a BOM.
        file.splice(
            0..1,
            b"\xEF\xBB\xBF{\"future\": [1, {\"x\": null}], "
                .iter()
                .copied(),
        );
        let current: Value =
            serde_json::from_slice(crate::model::session::strip_bom(&file)).unwrap();
        let b = body(ios());
        let info = json!({"role": "sales"});
        let edits = again_edits(
            &b,
            &current,
            written(Status::Accepted, Some("::1"), info.as_object()),
        );
        let out = with_members(&file, &edits).unwrap();
        let rec = validate(FOLDER, ID, &out).unwrap();
        assert_eq!(rec.status, Status::Accepted);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("\u{feff}{\"future\": [1, {\"x\": null}], \"application\": {"));
        let doc: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
        // The push token survives; the device keys sent replace theirs.
        assert_eq!(
            doc["device"],
            json!({"description": "iPad", "version": "18.0", "os": "iPadOS",
                   "id": "A1B2C3D4-0000-4000-8000-1234567890AB", "simulator": false,
                   "token": "f3a9c1d2e4b5a6978899aabbccddeeff00112233445566778899aabbccddeeff", "jb": false})
        );
        assert_eq!(doc["email"], "zoe@example.com");
        assert_eq!(doc["language"]["id"], "fr_FR");
        assert_eq!(
            doc["application"],
            json!({"id": "com.contactApp.Contact", "name": "Contact", "version": "2.0"})
        );
        assert_eq!(doc["session"], json!({"id": ID, "ip": "::1"}));
        assert!(!text.contains("6.6.6.6"));
        assert_eq!(doc["parameters"], json!({"customer": 42}));
        assert_eq!(doc["userInfo"], info);
        // `send` and `team` are not refreshed; the rest is kept as written.
        assert_eq!(doc["send"], "link");
        assert_eq!(doc["team"], json!({"id": "UTT7VDX8W5"}));
        assert!(text.contains("\"team\": {\"id\": \"UTT7VDX8W5\"}, \"language\": {\"id\": \"fr_FR\", \"code\": \"fr\", \"region\": \"FR\"}"), "{text}");
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn nothing_changes_when_nothing_differs() {
        let b = body(ios());
        let ip = Some("10.0.0.1");
        let new = new_file(&b, ID, "t", written(Status::Accepted, ip, None));
        let current: Value = serde_json::from_slice(&new).unwrap();
        assert!(again_edits(&b, &current, written(Status::Accepted, ip, None)).is_empty());
        // No ip given: the one stored stays.
        assert!(again_edits(&b, &current, written(Status::Accepted, None, None)).is_empty());
        let edits = again_edits(&b, &current, written(Status::Pending, ip, None));
        assert_eq!(edits, vec![(vec!["status"], json!("pending"))]);
        let edits = again_edits(&b, &current, written(Status::Accepted, Some("::2"), None));
        assert_eq!(edits, vec![(vec!["session", "ip"], json!("::2"))]);
    }
}
