//! `user-info TOKEN BODY` (4D's `$userInfo`): an app that is signed in sends
//! `{"userInfo":{…},"device":{"token":"…"}}` — what it knows of its user,
//! and its push-notification token. Both are stored in the session's file
//! by a checked, in-place rewrite (every other byte kept) and are live at
//! once. Only a live, accepted session may do it; any other token is
//! `UnknownToken` and nothing is written.

use mobile_session_proto::{ErrorCode, Response};
use serde_json::{Map, Value};

use super::body::{body_object, is_printable};
use super::edit::{self, lookup, Edit};
use super::resolve::resolve_token;
use super::{changed_session, CmdError, Context};

/// The longest push token accepted (APNs: 64 hex, FCM: about 160 characters).
pub const MAX_PUSH_TOKEN: usize = 4096;

/// A checked `$userInfo` body.
struct UserInfoBody {
    user_info: Option<Map<String, Value>>,
    /// The push token: a credential of the device, never logged.
    device_token: Option<String>,
}

impl std::fmt::Debug for UserInfoBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfoBody")
            .field("user_info", &self.user_info)
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| super::redact::REDACTED),
            )
            .finish()
    }
}

fn parse(body: &str) -> Result<UserInfoBody, CmdError> {
    let (_, mut m) = body_object(body)?;
    let user_info = match m.remove("userInfo") {
        None | Some(Value::Null) => None,
        Some(Value::Object(u)) => Some(u),
        Some(_) => return Err(CmdError::bad_request("userInfo must be an object")),
    };
    let device_token = match m.remove("device") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut d)) => match d.remove("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.len() > MAX_PUSH_TOKEN => {
                return Err(CmdError::bad_request(format!(
                    "device.token is {} bytes long; at most {MAX_PUSH_TOKEN} are accepted",
                    t.len()
                )))
            }
            Some(Value::String(t)) if !t.chars().all(is_printable) => {
                return Err(CmdError::bad_request(
                    "device.token contains a character that is not printable",
                ))
            }
            Some(Value::String(t)) => Some(t),
            Some(_) => return Err(CmdError::bad_request("device.token must be a string")),
        },
        Some(_) => return Err(CmdError::bad_request("device must be an object")),
    };
    Ok(UserInfoBody {
        user_info,
        device_token,
    })
}

pub fn handle(ctx: &Context, token: &str, body: &str) -> Result<Response, CmdError> {
    let update = parse(body)?;
    let mut txn = ctx.core.txn();
    let session = txn.views(|disk, live| resolve_token(disk, live, token))?;
    let t = &session.target;
    let path = || ctx.core.store().session_path(&t.folder, &t.name);
    let mut status = None;
    let written = txn
        .rewrite(&t.folder, &t.name, |file| -> Result<_, CmdError> {
            let (rec, doc) = edit::read_valid(
                &t.folder,
                &t.name,
                &file.bytes,
                &path().display().to_string(),
            )?;
            status = Some(rec.status);
            let mut edits: Vec<Edit<'_>> = Vec::new();
            if let Some(u) = &update.user_info {
                edits.push((vec!["userInfo"], Value::Object(u.clone())));
            }
            if let Some(t) = &update.device_token {
                edits.push((vec!["device", "token"], Value::String(t.clone())));
            }
            edits.retain(|(p, v)| lookup(&doc, p) != Some(v));
            if edits.is_empty() {
                return Ok(None);
            }
            let new = edit::apply(&t.folder, &t.name, &file.bytes, &edits)?;
            Ok(Some(new))
        })
        .map_err(|e: CmdError| {
            if e.code == ErrorCode::NotFound {
                CmdError::unknown_token(
                    "the session of this token has no file any more (deleted, not pushed yet)",
                )
            } else {
                e
            }
        })?;
    txn.make_live(&t.folder, &t.name, session.disk.as_ref());
    super::activity::seen(ctx, &t.folder, &t.name);
    if written {
        tracing::info!(app = %t.folder, id = %t.name, "user info stored");
        let mut stored = Vec::new();
        if update.user_info.is_some() {
            stored.push("userInfo");
        }
        if update.device_token.is_some() {
            stored.push("device.token");
        }
        let (folder, id) = (Some(t.folder.as_str()), Some(t.name.as_str()));
        let after = serde_json::json!({ "stored": stored });
        super::audit::record(ctx, "user-info", folder, id, Value::Null, after);
    }
    Ok(Response::UserInfoStored(changed_session(
        ctx, t, status, written,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::body::MAX_BODY;

    #[test]
    fn bodies() {
        let b = parse(r#"{"userInfo":{"name":"Zoé"},"device":{"token":"abc"}}"#).unwrap();
        assert_eq!(b.device_token.as_deref(), Some("abc"));
        assert_eq!(b.user_info.unwrap()["name"], "Zoé");
        let empty = parse("{}").unwrap();
        assert!(empty.user_info.is_none() && empty.device_token.is_none());
        for (bad, want) in [
            ("[]", "not a JSON object"),
            ("{", "not JSON"),
            (r#"{"userInfo":[1]}"#, "userInfo must be an object"),
            (r#"{"device":"x"}"#, "device must be an object"),
            (r#"{"device":{"token":1}}"#, "device.token must be a string"),
            ("{\"device\":{\"token\":\"a\\u001bb\"}}", "not printable"),
        ] {
            let e = parse(bad).err().map(|e| e.message).unwrap_or_default();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let long = format!(
            "{{\"device\":{{\"token\":\"{}\"}}}}",
            "a".repeat(MAX_PUSH_TOKEN + 1)
        );
        assert!(parse(&long).unwrap_err().message.contains("at most 4096"));
        let huge = format!("{{\"userInfo\":{{\"a\":\"{}\"}}}}", "a".repeat(MAX_BODY));
        assert!(parse(&huge).unwrap_err().message.contains("at most 65536"));
    }
}
