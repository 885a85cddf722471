//! `set-status STATUS SESSION... [--push]` (and `accept`): rewrites only the
//! bytes of the top-level `status` value of each file; every other byte —
//! layout, key order, unknown fields, a BOM — stays. Every argument is
//! resolved and every file validated before any is written, and each
//! rewrite is checked: a change another writer makes meanwhile is kept
//! and the status applied on top of it.
//!
//! Each file is read once for the check and once, under a lease, for the
//! rewrite; the disk view takes the bytes written without reading them back.
use mobile_session_proto::{ChangeReport, Response, Status};

use super::edit::valid_record;
use super::resolve::{resolve_all, Target};
use super::{after_some, audit, changed_session, read_error, CmdError, Context};
use crate::model::session::{content_hash, with_status, SessionRecord};
use crate::store::FileVersion;

/// The file's record, as the check validated it when the file is still
/// the same content, else validated now.
fn record(
    ctx: &Context,
    t: &Target,
    bytes: &[u8],
    checked: Option<&SessionRecord>,
) -> Result<SessionRecord, CmdError> {
    match checked {
        Some(rec) if rec.hash == content_hash(bytes) => Ok(rec.clone()),
        _ => {
            let what = ctx.core.store().session_path(&t.folder, &t.name);
            valid_record(&t.folder, &t.name, bytes, &what.display().to_string())
        }
    }
}

/// The new bytes of `file` with `status`, or `None` when it already says so.
fn edit(
    ctx: &Context,
    t: &Target,
    file: &FileVersion,
    status: Status,
    checked: &SessionRecord,
) -> Result<Option<Vec<u8>>, CmdError> {
    if record(ctx, t, &file.bytes, Some(checked))?.status == status {
        return Ok(None);
    }
    with_status(&file.bytes, status).map(Some).ok_or_else(|| {
        CmdError::internal(format!(
            "cannot locate \"status\" in {}",
            ctx.core.store().session_path(&t.folder, &t.name).display()
        ))
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
        let mut checked = Vec::with_capacity(targets.len());
        for t in &targets {
            let file = txn
                .read(&t.folder, &t.name)
                .map_err(|e| read_error(ctx, t, e))?;
            checked.push(record(ctx, t, &file.bytes, None)?);
        }
        let mut out = Vec::with_capacity(targets.len());
        for (t, checked) in targets.iter().zip(&checked) {
            let written = txn
                .rewrite(&t.folder, &t.name, |file| {
                    edit(ctx, t, file, status, checked)
                })
                .map_err(|e| after_some(e, &out))?;
            if written {
                tracing::info!(app = %t.folder, id = %t.name, %status, "status changed");
                audit::session(ctx, "status", t, Some(checked.status), Some(status));
            }
            out.push(changed_session(ctx, t, Some(status), written));
        }
        out
    };
    // Once the write lock is free: the watcher needs it to catch up.
    let push = push.then(|| super::push::run(ctx, false)).transpose()?;
    Ok(Response::Changed(ChangeReport {
        sessions: changed,
        push,
    }))
}
