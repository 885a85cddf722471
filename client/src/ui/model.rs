//! What the window shows of a session: the daemon's row, made ready to sort,
//! filter and draw once per load (never on the input path).

use mobile_session_proto::{Invalidity, SessionRow, Status, Unpushed};
use serde_json::Value;

/// Names a session across reloads: its app folder and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub app: String,
    pub id: String,
}

impl SessionKey {
    /// The SESSION argument the daemon resolves without ambiguity.
    pub fn arg(&self) -> String {
        format!("{}/{}", self.app, self.id)
    }

    /// `folder/7023d920…`, short enough for a status line.
    pub fn short(&self) -> String {
        let id: String = self.id.chars().take(8).collect();
        if id.len() < self.id.len() {
            format!("{}/{id}…", self.app)
        } else {
            format!("{}/{id}", self.app)
        }
    }
}

/// One line of the sessions table.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: SessionKey,
    /// The app's name (its folder until [`Row::set_app_name`]).
    pub app_name: String,
    /// `None` for an invalid file that is not live.
    pub status: Option<Status>,
    pub email: String,
    /// `device.description`.
    pub device: String,
    /// `device.os` and `device.version`, e.g. "iOS 17.4".
    pub os: String,
    pub path: String,
    pub unpushed: Option<Unpushed>,
    pub invalid: Option<Invalidity>,
    /// A writer has the file open; the row shows its last good content.
    pub writing: bool,
    /// Lower-case copies, made once so that sorting and filtering compare
    /// bytes instead of folding case 100 000 times per keystroke.
    pub(super) app_key: Box<str>,
    pub(super) device_key: Box<str>,
    pub(super) os_key: Box<str>,
    pub(super) email_key: Box<str>,
    /// E-mail, device and id, lower case, for the `/` filter.
    pub(super) haystack: Box<str>,
}

impl Row {
    pub fn new(row: SessionRow) -> Self {
        let device: Value = serde_json::from_str(&row.device).unwrap_or(Value::Null);
        let text = |k: &str| device.get(k).and_then(Value::as_str).unwrap_or("").trim();
        let description = text("description").to_string();
        let os = format!("{} {}", text("os"), text("version"))
            .trim()
            .to_string();
        let email = row.email.unwrap_or_default();
        let haystack = format!("{email}\n{description}\n{}", row.id).to_lowercase();
        Self {
            app_name: row.app.clone(),
            app_key: row.app.to_lowercase().into(),
            device_key: description.to_lowercase().into(),
            os_key: os.to_lowercase().into(),
            email_key: email.to_lowercase().into(),
            haystack: haystack.into(),
            key: SessionKey {
                app: row.app,
                id: row.id,
            },
            status: row.status,
            email,
            device: description,
            os,
            path: row.path,
            unpushed: row.unpushed,
            invalid: row.invalid,
            writing: row.writing,
        }
    }

    pub fn set_app_name(&mut self, name: &str) {
        self.app_key = name.to_lowercase().into();
        self.app_name = name.to_string();
    }

    /// The unpushed column: `new`, `changed`, `deleted`, `invalid N`, or
    /// empty; `writing` added while a writer has the file open.
    pub fn mark(&self) -> String {
        let mark = match (&self.invalid, self.unpushed) {
            (Some(inv), _) => format!("invalid {}", inv.code),
            (None, Some(u)) => u.as_str().to_string(),
            (None, None) => String::new(),
        };
        match (mark.is_empty(), self.writing) {
            (_, false) => mark,
            (true, true) => "writing".to_string(),
            (false, true) => format!("{mark}, writing"),
        }
    }

    /// Whether its file is gone (a live session deleted on disk, not pushed yet).
    pub fn is_deleted(&self) -> bool {
        self.unpushed == Some(Unpushed::Deleted)
    }
}

/// The text of the detail pane: the session's JSON, pretty-printed, with
/// the session token and the push token replaced whatever the role. A file
/// that is not JSON is shown as stored, its token values masked all the same.
pub fn detail_text(json: &str) -> String {
    match serde_json::from_str::<Value>(json) {
        Ok(mut doc) => {
            redact(&mut doc);
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| json.to_string())
        }
        Err(_) => mask_tokens(json),
    }
}

pub use mobile_session_proto::REDACTED;

fn redact(doc: &mut Value) {
    if let Some(t) = doc.get_mut("token") {
        *t = Value::String(REDACTED.into());
    }
    if let Some(t) = doc.get_mut("device").and_then(|d| d.get_mut("token")) {
        *t = Value::String(REDACTED.into());
    }
}

/// Masks the string after every `"token"` key of a text that does not
/// parse as JSON (an invalid file may still hold a working token).
fn mask_tokens(text: &str) -> String {
    const KEY: &str = "\"token\"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(head);
        let after_colon = tail.trim_start();
        let Some(value) = after_colon.strip_prefix(':') else {
            rest = tail;
            continue;
        };
        let value = value.trim_start();
        let Some(body) = value.strip_prefix('"') else {
            rest = tail;
            continue;
        };
        // The end of the string value, skipping escaped quotes; an
        // unterminated one is masked to the end of the text.
        let mut end = body.len();
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = i;
                    break;
                }
                _ => escaped = false,
            }
        }
        out.push_str(&tail[..tail.len() - value.len()]);
        out.push('"');
        out.push_str(REDACTED);
        out.push('"');
        rest = body.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row as the daemon would send it.
    pub fn session_row(app: &str, id: &str, device: &str, os: &str, email: &str) -> SessionRow {
        let device = serde_json::json!({ "description": device, "os": os, "version": "17.4" });
        SessionRow {
            app: app.into(),
            id: id.into(),
            status: Some(Status::Accepted),
            email: Some(email.into()),
            device: device.to_string(),
            path: format!("/data/MobileApps/{app}/{id}"),
            unpushed: None,
            invalid: None,
            writing: false,
            last_seen_ms: None,
            group: None,
        }
    }

    #[test]
    fn row_columns_from_the_device_object() {
        let row = Row::new(session_row(
            "app",
            "7023D920",
            "iPad Pro",
            "ipadOS",
            "Marie@Example.com",
        ));
        assert_eq!(row.device, "iPad Pro");
        assert_eq!(row.os, "ipadOS 17.4");
        assert_eq!(row.email, "Marie@Example.com");
        assert_eq!(&*row.haystack, "marie@example.com\nipad pro\n7023d920");
        assert_eq!(row.key.arg(), "app/7023D920");
        assert_eq!(row.mark(), "");
    }

    #[test]
    fn a_row_without_device_or_email_is_blank_not_an_error() {
        let mut raw = session_row("app", "ab12", "", "", "");
        raw.device = "null".into();
        raw.email = None;
        raw.status = None;
        raw.invalid = Some(Invalidity {
            code: 3,
            error: "status is missing".into(),
        });
        let row = Row::new(raw);
        assert_eq!((row.device.as_str(), row.os.as_str()), ("", ""));
        assert_eq!(row.mark(), "invalid 3");
    }

    #[test]
    fn detail_hides_both_tokens_and_keeps_the_rest() {
        let json = r#"{"token":"eyJzZWNyZXQ","device":{"description":"iPad","token":"apns-secret"},"zeta":1,"alpha":2}"#;
        let text = detail_text(json);
        assert!(!text.contains("eyJzZWNyZXQ") && !text.contains("apns-secret"));
        assert_eq!(text.matches(REDACTED).count(), 2, "{text}");
        // Field order as stored.
        assert!(text.find("zeta").unwrap() < text.find("alpha").unwrap());
    }

    #[test]
    fn detail_of_a_broken_file_still_masks_tokens() {
        let text = detail_text(r#"{"token" : "eyJz\"ZWNy", "device": {"token":"apns"}, "x": "#);
        assert!(!text.contains("eyJz") && !text.contains("apns"), "{text}");
        assert!(text.ends_with(r#""x": "#), "{text}");
        assert_eq!(text.matches(REDACTED).count(), 2, "{text}");
        // A "token" that is not a key with a string value is left alone.
        assert_eq!(mask_tokens(r#"["token", 3]"#), r#"["token", 3]"#);
        assert_eq!(
            mask_tokens(r#"{"token": "abc"#),
            r#"{"token": "<redacted>""#
        );
    }
}
