//! `delete SESSION... [--push] [--dry-run]`: removes the session files. A
//! session whose file is already gone (live until the next push) is reported
//! unchanged. A dry run resolves the same way and answers what a deletion
//! would report, touching nothing.
use mobile_session_proto::{ChangeReport, Response};

use super::resolve::{resolve_all, Target};
use super::{after_some, audit, changed_session, CmdError, Context};
use crate::model::view::DiskView;

/// The status of a session's valid file, as the disk view has it.
fn disk_status(disk: &DiskView, t: &Target) -> Option<mobile_session_proto::Status> {
    let entry = disk.get(&t.key())?;
    entry.state.as_ref().ok().map(|r| r.status)
}

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
            let before = txn.views(|disk, _| disk_status(disk, t));
            let changed = match txn.delete(&t.folder, &t.name) {
                Ok(()) => true,
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(after_some(e.into(), &out)),
            };
            if changed {
                tracing::info!(app = %t.folder, id = %t.name, "session file deleted");
                audit::session(ctx, "delete", t, before, None);
            }
            out.push(changed_session(ctx, t, None, changed));
        }
        out
    };
    let push = push.then(|| super::push::run(ctx, false)).transpose()?;
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
