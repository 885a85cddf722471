//! `delete SESSION... [--push] [--dry-run]`: removes the session files. A
//! session whose file is already gone (live until the next push) is reported
//! unchanged. A dry run resolves the same way and answers what a deletion
//! would report, touching nothing.
use mobile_session_proto::{ChangeReport, Response};

use super::resolve::resolve_all;
use super::{after_some, changed_session, CmdError, Context};

pub fn handle(
    ctx: &Context,
    sessions: &[String],
    push: bool,
    dry_run: bool,
) -> Result<Response, CmdError> {
    if dry_run {
        return preview(ctx, sessions);
    }
    let deleted = {
        let mut txn = ctx.core.txn();
        let targets = txn.views(|disk, live| resolve_all(disk, live, sessions))?;
        let mut out = Vec::with_capacity(targets.len());
        for t in &targets {
            let changed = match txn.delete(&t.folder, &t.name) {
                Ok(()) => true,
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(after_some(e.into(), &out)),
            };
            if changed {
                tracing::info!(app = %t.folder, id = %t.name, "session file deleted");
            }
            out.push(changed_session(ctx, t, None, changed));
        }
        out
    };
    let push = push.then(|| ctx.core.push(false)).transpose()?;
    Ok(Response::Changed(ChangeReport {
        sessions: deleted,
        push,
    }))
}

/// What `delete` would answer now: the same targets, each `changed` when
/// its file is there to delete.
fn preview(ctx: &Context, sessions: &[String]) -> Result<Response, CmdError> {
    let targets = ctx
        .core
        .read_views(|disk, live| resolve_all(disk, live, sessions))?;
    let store = ctx.core.store();
    let sessions = targets
        .iter()
        .map(|t| changed_session(ctx, t, None, store.exists(&t.folder, &t.name)))
        .collect();
    Ok(Response::Changed(ChangeReport {
        sessions,
        push: None,
    }))
}
