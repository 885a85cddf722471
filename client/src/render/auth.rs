//! `verify`, `authenticate`, `user-info` and `logout`.

use std::fmt::Write as _;

use mobile_session::{AuthReply, ChangedSession, VerifyReply};
use serde_json::{json, Value};

use super::change::changed_json;
use super::{id_line, printable, Paint, View};

pub fn verify(reply: &VerifyReply, view: &View) -> String {
    if view.json {
        return format!(
            "{}\n",
            json!({ "status": reply.status.as_str(), "app": reply.app, "id": reply.id })
        );
    }
    if view.quiet {
        return id_line(reply.id.as_deref());
    }
    format!("{}\n", view.status_word(reply.status.as_str()))
}

pub fn auth_json(reply: &AuthReply) -> Value {
    let user_info: Option<Value> = reply
        .user_info
        .as_deref()
        .and_then(|u| serde_json::from_str(u).ok());
    json!({
        "success": reply.success,
        "id": reply.id,
        "status": reply.status.map(|s| s.as_str()),
        "token": reply.token,
        "statusText": reply.status_text,
        "userInfo": user_info,
    })
}

pub fn authenticated(reply: &AuthReply, view: &View) -> String {
    if view.json {
        return format!("{}\n", auth_json(reply));
    }
    if view.quiet {
        return id_line(reply.id.as_deref());
    }
    let mut out = String::new();
    if !reply.success {
        let _ = writeln!(out, "{}", view.paint("refused", Paint::Red));
    }
    if let Some(id) = &reply.id {
        let _ = writeln!(out, "id:     {id}");
    }
    if let Some(s) = reply.status {
        let _ = writeln!(out, "status: {}", view.status_word(s.as_str()));
    }
    if let Some(t) = &reply.token {
        let _ = writeln!(out, "token:  {t}");
    }
    if !reply.status_text.is_empty() {
        let _ = writeln!(out, "{}", printable(&reply.status_text));
    }
    out
}

/// A sign-in that went nowhere, as 4D answers it: `success` false and why.
pub fn not_signed_in(e: &impl std::fmt::Display) -> AuthReply {
    AuthReply {
        success: false,
        id: None,
        status: None,
        token: None,
        status_text: e.to_string(),
        user_info: None,
    }
}

/// A failed `user-info` or `logout`, for JSON readers: `ok` false, as the
/// SDKs check it, and why.
pub fn not_ok(message: &str) -> String {
    format!("{}\n", json!({"ok": false, "statusText": message}))
}

/// The answer of `user-info` and `logout`; in JSON with `"ok": true` first,
/// which 4D's Android SDK checks.
pub fn session_done(what: &str, s: &ChangedSession, view: &View) -> String {
    if view.json {
        let mut out = serde_json::Map::new();
        out.insert("ok".into(), Value::Bool(true));
        if let Value::Object(fields) = changed_json(s) {
            out.extend(fields);
        }
        format!("{}\n", Value::Object(out))
    } else if view.quiet {
        format!("{}\n", s.id)
    } else {
        format!("{what}: {}/{}\n", s.app, s.id)
    }
}
