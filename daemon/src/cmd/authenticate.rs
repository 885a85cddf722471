//! `authenticate`: signs a device in from the body a mobile app posts to
//! 4D's `$authenticate`. The first call for an app folder + `device.id`
//! creates the session (a new id, the 4D token, the policy's status), writes
//! its file and makes it live at once; later calls refresh its descriptive
//! fields and keep its id, token and status. `password` is never stored.

use std::sync::Arc;

use mobile_session_proto::{AuthReply, Response, Status};
use serde_json::{Map, Value};

use super::{CmdError, Context};
use crate::core::Txn;
use crate::model::names::{app_folder, is_app_folder_name};
use crate::model::session::{strip_bom, SessionRecord};
use crate::model::token;
use crate::store::{StoreError, WriteMode};

/// Keys a new file starts with, in the order 4D writes them.
const LEADING_KEYS: &[&str] = &["application", "team", "language", "email", "device", "send"];
/// What a later sign-in refreshes.
const DESCRIPTIVE_KEYS: &[&str] = &["email", "language", "device"];

pub const PENDING_TEXT: &str =
    "This device is awaiting validation: an administrator must accept it (or you follow the link sent by e-mail), then sign in again.";
pub const ACCEPTED_TEXT: &str = "Accepted";

/// The parts of the request body a sign-in needs.
struct SignIn {
    body: Map<String, Value>,
    app_id: String,
    team_id: Option<String>,
    device_id: String,
    email: String,
}

fn parse(body: &str) -> Result<SignIn, CmdError> {
    let value: Value = serde_json::from_str(body.trim_start_matches('\u{feff}'))
        .map_err(|e| CmdError::bad_request(format!("the request body is not JSON: {e}")))?;
    let Value::Object(mut body) = value else {
        return Err(CmdError::bad_request(
            "the request body is not a JSON object",
        ));
    };
    let text = |v: Option<&Value>, what: &str| -> Result<String, CmdError> {
        v.and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CmdError::bad_request(format!("the request body has no {what} string")))
    };
    let app_id = text(
        body.get("application").and_then(|a| a.get("id")),
        "application.id",
    )?;
    let device_id = text(body.get("device").and_then(|d| d.get("id")), "device.id")?;
    let team_id = body
        .get("team")
        .and_then(|t| t.get("id"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Never stored, never logged.
    body.remove("password");
    Ok(SignIn {
        body,
        app_id,
        team_id,
        device_id,
        email,
    })
}

/// Parses a sign-in body and discards the result: the entry point of the
/// `signin_body` fuzz target (the parser itself stays private).
pub fn parse_body(body: &str) -> Result<(), CmdError> {
    parse(body).map(drop)
}

pub fn handle(ctx: &Context, body: &str) -> Result<Response, CmdError> {
    Ok(Response::Authenticated(sign_in(ctx, body)?))
}

fn sign_in(ctx: &Context, body: &str) -> Result<AuthReply, CmdError> {
    let req = parse(body)?;
    let folder = app_folder(&req.app_id, req.team_id.as_deref());
    if !is_app_folder_name(&folder) {
        return Err(CmdError::bad_request(format!(
            "application.id/team.id give the folder name {folder:?}, which is not a plain name"
        )));
    }
    let mut txn = ctx.core.txn();
    let device = |txn: &Txn<'_>| {
        txn.views(|disk, _| {
            let (name, rec) = disk.app(&folder)?.find_device(&req.device_id)?;
            Some((name.to_string(), rec.clone()))
        })
    };
    // The file may have changed behind our back: re-read before deciding.
    if let Some((name, _)) = device(&txn) {
        txn.refresh_file(&folder, &name);
    }
    match device(&txn) {
        Some((name, rec)) => sign_in_again(&mut txn, &folder, &name, &rec, &req),
        None => first_sign_in(ctx, &mut txn, &folder, &req),
    }
}

fn first_sign_in(
    ctx: &Context,
    txn: &mut Txn<'_>,
    folder: &str,
    req: &SignIn,
) -> Result<AuthReply, CmdError> {
    let policy = ctx.core.config().policy_for(folder, &req.app_id);
    let status = if policy.starts_pending(&req.email) {
        Status::Pending
    } else {
        Status::Accepted
    };
    txn.ensure_folder(folder)?;
    // 160 random bits cannot realistically collide, but a clash must not overwrite.
    for _ in 0..8 {
        let id = new_session_id()?;
        let token = token::encode(&req.app_id, &id, req.team_id.as_deref());
        let doc = new_document(req, &id, status, &token);
        let mut text =
            serde_json::to_string_pretty(&doc).map_err(|e| CmdError::internal(e.to_string()))?;
        text.push('\n');
        match txn.write(folder, &id, text.as_bytes(), WriteMode::Create) {
            Ok(()) => {}
            Err(StoreError::Exists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        txn.make_live(folder, &id, None);
        tracing::info!(app = %folder, id = %id, %status, "new session");
        return Ok(reply(id, status, token));
    }
    Err(CmdError::internal("could not find a free session id"))
}

fn sign_in_again(
    txn: &mut Txn<'_>,
    folder: &str,
    name: &str,
    rec: &Arc<SessionRecord>,
    req: &SignIn,
) -> Result<AuthReply, CmdError> {
    let mut token = String::new();
    let written = txn.rewrite(folder, name, |file| {
        let (new, tok) = refreshed(&file.bytes, req)?;
        token = tok;
        Ok::<_, CmdError>(new)
    })?;
    if written {
        txn.make_live(folder, name, Some(rec));
    }
    // The server answers from memory: the live status, when there is one.
    let status = txn
        .views(|_, live| live.get(folder, name).map(|l| l.status))
        .unwrap_or(rec.status);
    tracing::info!(app = %folder, id = %name, %status, "session signed in again");
    Ok(reply(rec.id.to_string(), status, token))
}

/// The file's new bytes with the descriptive fields of `req` (or `None`
/// when nothing changes), and the file's token.
fn refreshed(bytes: &[u8], req: &SignIn) -> Result<(Option<Vec<u8>>, String), CmdError> {
    let original = std::str::from_utf8(strip_bom(bytes))
        .map_err(|_| CmdError::internal("a valid session is not UTF-8"))?;
    let bom = bytes.len() != original.len();
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(original) else {
        return Err(CmdError::internal("a valid session no longer parses"));
    };
    let before = Value::Object(doc.clone());
    for key in DESCRIPTIVE_KEYS {
        if let Some(v) = req.body.get(*key) {
            doc.insert((*key).to_string(), v.clone());
        }
    }
    if let (Some(Value::Object(app)), Some(v)) = (
        doc.get_mut("application"),
        req.body.get("application").and_then(|a| a.get("version")),
    ) {
        app.insert("version".into(), v.clone());
    }
    if let (Some(Value::Object(s)), Some(ip)) = (
        doc.get_mut("session"),
        req.body.get("session").and_then(|s| s.get("ip")),
    ) {
        s.insert("ip".into(), ip.clone());
    }
    let doc = Value::Object(doc);
    let token = doc
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if doc == before {
        return Ok((None, token));
    }
    // Keep the file's style: pretty or compact, CRLF, final newline, BOM.
    let mut text = if original.contains('\n') {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    }
    .map_err(|e| CmdError::internal(e.to_string()))?;
    let crlf = original.contains("\r\n");
    if crlf {
        text = text.replace('\n', "\r\n");
    }
    if original.ends_with('\n') && !text.ends_with('\n') {
        text.push_str(if crlf { "\r\n" } else { "\n" });
    }
    if bom {
        text.insert(0, '\u{feff}');
    }
    Ok((Some(text.into_bytes()), token))
}

fn reply(id: String, status: Status, token: String) -> AuthReply {
    match status {
        Status::Accepted => AuthReply {
            success: true,
            id: Some(id),
            status: Some(status),
            token: Some(token),
            status_text: ACCEPTED_TEXT.to_string(),
            user_info: None,
        },
        Status::Pending => AuthReply {
            success: true,
            id: Some(id),
            status: Some(status),
            token: None,
            status_text: PENDING_TEXT.to_string(),
            user_info: None,
        },
    }
}

fn new_document(req: &SignIn, id: &str, status: Status, token: &str) -> Value {
    let mut doc = Map::new();
    for key in LEADING_KEYS {
        if let Some(v) = req.body.get(*key) {
            doc.insert((*key).to_string(), v.clone());
        }
    }
    if !doc.contains_key("email") {
        doc.insert("email".into(), Value::String(String::new()));
    }
    let mut sess = Map::new();
    sess.insert("id".into(), Value::String(id.to_string()));
    if let Some(Value::Object(s)) = req.body.get("session") {
        for (k, v) in s {
            if k != "id" {
                sess.insert(k.clone(), v.clone());
            }
        }
    }
    doc.insert("session".into(), Value::Object(sess));
    doc.insert("status".into(), Value::String(status.as_str().into()));
    doc.insert("token".into(), Value::String(token.into()));
    for (k, v) in &req.body {
        if !doc.contains_key(k) && k != "password" {
            doc.insert(k.clone(), v.clone());
        }
    }
    Value::Object(doc)
}

/// 40 lower-case hex characters from the OS random source.
fn new_session_id() -> Result<String, CmdError> {
    let mut b = [0u8; 20];
    getrandom::fill(&mut b)
        .map_err(|e| CmdError::internal(format!("the OS random source failed: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &str = r#"{"email":"a@b.c","password":"p","application":{"id":"com.a","version":"1"},"team":{"id":"T"},"device":{"id":"D1","os":"iOS"},"session":{"ip":"::1"}}"#;

    #[test]
    fn body_rules() {
        assert!(parse_body(BODY).is_ok());
        assert!(parse(BODY).is_ok_and(|r| !r.body.contains_key("password")));
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"application":{"id":""},"device":{"id":"D"}}"#,
        ] {
            assert!(parse_body(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any body, or a real one damaged, parses or is refused; a parsed
        /// one never keeps the password.
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
            if let Ok(r) = parse(&body) {
                prop_assert!(!r.body.contains_key("password"));
                prop_assert!(!r.app_id.is_empty() && !r.device_id.is_empty());
            }
        }
    }
}
