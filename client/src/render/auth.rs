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

/// The answer of `user-info` and `logout`.
pub fn session_done(what: &str, s: &ChangedSession, view: &View) -> String {
    if view.json {
        format!("{}\n", changed_json(s))
    } else if view.quiet {
        format!("{}\n", s.id)
    } else {
        format!("{what}: {}/{}\n", s.app, s.id)
    }
}
