//! The history's records of changes made through the daemon: built from the
//! caller's credentials ([`Context::caller`]) and written by
//! [`crate::state::audit`]. A command records each change once it is made,
//! inside its `Txn` when it has one, so records come in the order of the
//! changes. Changes other writers make (the watcher sees them) and the
//! daemon's own pushes (SIGHUP, `--auto-push`) are in the log, not here.

use mobile_session_proto::{AuditRecord, AuthReply, PushReport, Status};
use serde_json::{json, Value};

use super::resolve::Target;
use super::Context;
use crate::model::seen::now_ms;

/// Records one change.
pub fn record(
    ctx: &Context,
    action: &str,
    app: Option<&str>,
    id: Option<&str>,
    before: Value,
    after: Value,
) {
    let rec = AuditRecord {
        time_ms: now_ms(),
        uid: ctx.caller.uid,
        pid: ctx.caller.pid,
        process: ctx.caller.process(),
        action: action.to_string(),
        app: app.map(str::to_string),
        id: id.map(str::to_string),
        before: before.to_string(),
        after: after.to_string(),
    };
    ctx.state.audit.append(&rec);
}

/// A status as the history shows it (`null` for none: a deleted session).
pub fn status(s: Option<Status>) -> Value {
    s.map_or(Value::Null, |s| Value::from(s.as_str()))
}

/// Records a change of one session, its status before and after.
pub fn session(
    ctx: &Context,
    action: &str,
    t: &Target,
    before: Option<Status>,
    after: Option<Status>,
) {
    record(
        ctx,
        action,
        Some(&t.folder),
        Some(&t.name),
        status(before),
        status(after),
    );
}

/// Records a sign-in that created or decided a session (`before`: its
/// status until then, `None` for a new one).
pub fn sign_in(ctx: &Context, folder: &str, before: Option<Status>, reply: &AuthReply) {
    let id = reply.id.as_deref();
    record(
        ctx,
        "sign-in",
        Some(folder),
        id,
        status(before),
        status(reply.status),
    );
}

/// Records a refused sign-in (nothing was written).
pub fn refused(ctx: &Context, folder: &str) {
    record(
        ctx,
        "sign-in",
        Some(folder),
        None,
        Value::Null,
        Value::from("refused"),
    );
}

/// Records a push a client asked for, with its counts.
pub fn push(ctx: &Context, report: &PushReport) {
    let after = json!({
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "invalid": report.invalid.len(),
    });
    record(ctx, "push", None, None, Value::Null, after);
}
