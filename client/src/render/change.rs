//! `push`, and what `set-status`, `accept` and `delete` (or its dry run)
//! did.

use std::fmt::Write as _;

use mobile_session::{ChangeReport, ChangedSession, PushReport};
use serde_json::{json, Value};

use super::{printable, Paint, View};

/// A push's report; `writing` only when a file was being written.
pub fn push_json(p: &PushReport) -> Value {
    let files = |v: &[mobile_session::proto::InvalidFile]| {
        v.iter()
            .map(|i| json!({"path": i.path, "code": i.code, "error": i.error}))
            .collect::<Vec<_>>()
    };
    let mut v = json!({
        "added": p.added,
        "updated": p.updated,
        "removed": p.removed,
        "unchanged": p.unchanged,
        "invalid": files(&p.invalid),
    });
    if !p.writing.is_empty() {
        v["writing"] = json!(files(&p.writing));
    }
    v
}

fn push_human(p: &PushReport, view: &View, verb: &str) -> String {
    let mut s = format!("{verb}: {p}\n");
    for i in &p.invalid {
        let code = view.paint(&format!("code {}", i.code), Paint::Red);
        let _ = writeln!(
            s,
            "  invalid ({code}): {}: {}",
            printable(&i.path),
            printable(&i.error)
        );
    }
    for w in &p.writing {
        let _ = writeln!(
            s,
            "  being written (its last good content kept): {}: {}",
            printable(&w.path),
            printable(&w.error)
        );
    }
    s
}

/// A push's report; `dry_run`: what a push would report (the same JSON).
pub fn push(p: &PushReport, view: &View, dry_run: bool) -> String {
    if view.json {
        format!("{}\n", push_json(p))
    } else if view.quiet {
        String::new()
    } else {
        push_human(p, view, if dry_run { "would push" } else { "pushed" })
    }
}

pub fn changed_json(s: &ChangedSession) -> Value {
    json!({
        "app": s.app,
        "id": s.id,
        "path": s.path,
        "status": s.status.map(|x| x.as_str()),
        "changed": s.changed,
    })
}

pub fn changed(c: &ChangeReport, view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = c.sessions.iter().map(changed_json).collect();
        return format!(
            "{}\n",
            json!({ "sessions": sessions, "push": c.push.as_ref().map(push_json) })
        );
    }
    if view.quiet {
        return c.sessions.iter().map(|s| format!("{}\n", s.id)).collect();
    }
    let mut out = String::new();
    for s in &c.sessions {
        let _ = match (s.status, s.changed) {
            (Some(st), true) => {
                writeln!(out, "{}: {}/{}", view.status_word(st.as_str()), s.app, s.id)
            }
            (Some(st), false) => writeln!(out, "already {st}: {}/{}", s.app, s.id),
            (None, true) => writeln!(out, "deleted: {}/{}", s.app, s.id),
            (None, false) => writeln!(out, "already deleted: {}/{}", s.app, s.id),
        };
    }
    if let Some(p) = &c.push {
        out.push_str(&push_human(p, view, "pushed"));
    }
    out
}

/// What `delete --dry-run` found: the sessions `delete` would remove, and
/// those it would report already deleted (gone on disk, live until a push).
pub fn dry_run(c: &ChangeReport, view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = c
            .sessions
            .iter()
            .map(|s| json!({"app": s.app, "id": s.id, "path": s.path, "changed": s.changed}))
            .collect();
        return format!("{}\n", json!({"dry_run": true, "sessions": sessions}));
    }
    c.sessions
        .iter()
        .map(|s| match (view.quiet, s.changed) {
            (true, _) => format!("{}\n", s.id),
            (false, true) => format!(
                "would delete: {}/{} ({})\n",
                s.app,
                s.id,
                printable(&s.path)
            ),
            (false, false) => format!("already deleted: {}/{}\n", s.app, s.id),
        })
        .collect()
}
