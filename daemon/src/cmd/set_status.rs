//! `set-status STATUS SESSION... [--push]` (and `accept`): rewrites only the
//! bytes of the top-level `status` value of each file; every other byte —
//! layout, key order, unknown fields, a BOM — stays. Every argument is
//! resolved and every file validated before any is written, and each
//! rewrite is checked: a change another writer makes meanwhile is kept
//! and the status applied on top of it.
use mobile_session_proto::{ChangeReport, Response, Status};

use super::edit::valid_record;
use super::resolve::{resolve_all, Target};
use super::{after_some, changed_session, read_error, CmdError, Context};
use crate::model::session::with_status;
use crate::store::FileVersion;

/// The new bytes of `file` with `status`, or `None` when it already says so.
fn edit(
    ctx: &Context,
    t: &Target,
    file: &FileVersion,
    status: Status,
) -> Result<Option<Vec<u8>>, CmdError> {
    let path = || ctx.core.store().session_path(&t.folder, &t.name);
    let what = path().display().to_string();
    let rec = valid_record(&t.folder, &t.name, &file.bytes, &what)?;
    if rec.status == status {
        return Ok(None);
    }
    with_status(&file.bytes, status).map(Some).ok_or_else(|| {
        CmdError::internal(format!("cannot locate \"status\" in {}", path().display()))
    })
}

pub fn handle(
    ctx: &Context,
    status: Status,
    sessions: &[String],
    push: bool,
) -> Result<Response, CmdError> {
    let changed = {
        let mut txn = ctx.core.txn();
        let targets = txn.views(|disk, live| resolve_all(disk, live, sessions))?;
        for t in &targets {
            let file = txn
                .read(&t.folder, &t.name)
                .map_err(|e| read_error(ctx, t, e))?;
            edit(ctx, t, &file, status)?;
        }
        let mut out = Vec::with_capacity(targets.len());
        for t in &targets {
            let written = txn
                .rewrite(&t.folder, &t.name, |file| edit(ctx, t, file, status))
                .map_err(|e| after_some(e, &out))?;
            if written {
                tracing::info!(app = %t.folder, id = %t.name, %status, "status changed");
            }
            out.push(changed_session(ctx, t, Some(status), written));
        }
        out
    };
    // Once the write lock is free: the watcher needs it to catch up.
    let push = push.then(|| ctx.core.push(false)).transpose()?;
    Ok(Response::Changed(ChangeReport {
        sessions: changed,
        push,
    }))
}
