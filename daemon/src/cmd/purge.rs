//! `purge --inactive DUR [APP] [--dry-run] [--push]`: deletes the session
//! files whose activity (last seen, or the file's last write, whichever is
//! later) is older than the cutoff. A dry run answers the same list and the
//! cutoff it used; the client sends that cutoff back once the list is
//! confirmed, so what is deleted is what was shown (less what became
//! active meanwhile).
//!
//! [`remove`] is the deletion `purge` and `dedupe` share: the plan is made
//! from a look at the views (no lock held while every file is stat'ed),
//! then each session is checked again under the write lock — still the
//! same file, not written since (even if the watcher has not said so yet),
//! and, for `purge`, still not seen since — and deleted. Its
//! live copy stays until a push, as with `delete`.

use mobile_session_proto::{ChangedSession, PurgeRequest, RemovalReport, RemovedSession, Response};

use super::activity::{facts, Fact};
use super::resolve::resolve_app;
use super::{after_some, audit, CmdError, Context};
use crate::model::seen::now_ms;

pub fn handle(ctx: &Context, req: &PurgeRequest) -> Result<Response, CmdError> {
    if req.inactive_secs == 0 && req.cutoff_ms.is_none() {
        return Err(CmdError::bad_request(
            "purge --inactive needs a duration above zero (it would delete every session)",
        ));
    }
    let cutoff = req
        .cutoff_ms
        .unwrap_or_else(|| now_ms().saturating_sub(req.inactive_secs.saturating_mul(1000)));
    let app = app_of(ctx, req.app.as_deref())?;
    let mut stale: Vec<Fact> = facts(ctx, app.as_deref())
        .into_iter()
        .filter(|f| f.activity().is_some_and(|a| a < cutoff))
        .collect();
    stale.sort_by_key(Fact::activity);
    let plan = stale.into_iter().map(|f| (f, None)).collect();
    // Seen since the plan was made: active after all.
    let still_stale = |f: &Fact| {
        let live = ctx
            .core
            .read_live(|l| l.get(&f.folder, &f.name).map_or(0, |r| r.seen.secs()));
        let seen = ctx.state.seen.reader().ms(&f.folder, &f.name, live);
        seen.is_none_or(|ms| ms < cutoff)
    };
    let mut report = remove(ctx, "purge", plan, &still_stale, req.dry_run, req.push)?;
    report.cutoff_ms = Some(cutoff);
    Ok(Response::Removed(report))
}

/// The folder an APP argument names, when one is given.
pub fn app_of(ctx: &Context, app: Option<&str>) -> Result<Option<String>, CmdError> {
    app.map(|a| ctx.core.read_views(|disk, live| resolve_app(disk, live, a)))
        .transpose()
}

/// Deletes the planned sessions (each with the id kept in its place, for
/// `dedupe`) that are still the file planned on and that `still` accepts;
/// records each in the history as `action`. A dry run deletes nothing and
/// reports each as it would be.
pub fn remove(
    ctx: &Context,
    action: &str,
    plan: Vec<(Fact, Option<String>)>,
    still: &dyn Fn(&Fact) -> bool,
    dry_run: bool,
    push: bool,
) -> Result<RemovalReport, CmdError> {
    let row = |f: &Fact, kept: Option<String>, changed: bool| RemovedSession {
        app: f.folder.clone(),
        id: f.rec.id.to_string(),
        path: ctx
            .core
            .store()
            .session_path(&f.folder, &f.name)
            .display()
            .to_string(),
        status: Some(f.rec.status),
        device: f.rec.device.to_string(),
        last_seen_ms: f.last_seen,
        modified_ms: f.modified,
        kept,
        changed,
    };
    let mut report = RemovalReport {
        dry_run,
        ..Default::default()
    };
    if dry_run {
        report.sessions = plan.into_iter().map(|(f, k)| row(&f, k, true)).collect();
        return Ok(report);
    }
    {
        let mut txn = ctx.core.txn();
        let mut done: Vec<ChangedSession> = Vec::new();
        for (f, kept) in plan {
            let t = f.target();
            let same = txn.views(|disk, _| {
                disk.get(&t.key())
                    .and_then(|e| e.state.as_ref().ok())
                    .is_some_and(|r| r.same_content(&f.rec))
            }) && written_at(ctx, &f) == f.modified;
            let deleted = same
                && still(&f)
                && match txn.delete(&t.folder, &t.name) {
                    Ok(()) => true,
                    Err(e) if e.is_not_found() => false,
                    Err(e) => return Err(after_some(e.into(), &done)),
                };
            if deleted {
                tracing::info!(app = %t.folder, id = %t.name, "session file deleted ({action})");
                audit::session(ctx, action, &t, Some(f.rec.status), None);
                done.push(super::changed_session(ctx, &t, None, true));
            }
            report.sessions.push(row(&f, kept, deleted));
        }
    }
    // Once the write lock is free: the watcher needs it to catch up.
    report.push = push.then(|| super::push::run(ctx, false)).transpose()?;
    Ok(report)
}

/// When `f`'s file was last written, as it is now: one the watcher has not
/// reported yet (written since the plan) counts as changed.
fn written_at(ctx: &Context, f: &Fact) -> Option<u64> {
    let names = [f.name.as_str()];
    ctx.core.store().modified(&f.folder, &names).pop().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_proto::Role;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_file_written_again_since_the_plan_is_spared() {
        let (_dir, ctx) = super::super::tests::context(Role::Admin);
        let store = ctx.core.store();
        let all = facts(&ctx, None);
        let f = all.first().expect("a session");
        let path = store.session_path(&f.folder, &f.name);
        let old = SystemTime::now() - Duration::from_secs(100 * 86_400);
        let set = |t: SystemTime| {
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(t).unwrap();
        };
        set(old);
        let plan: Vec<_> = facts(&ctx, None)
            .into_iter()
            .filter(|p| p.name == f.name && p.folder == f.folder)
            .map(|p| (p, None))
            .collect();
        // Written again (say by 4D, the same text) before the watcher has
        // told the daemon: the plan is no longer about this file.
        set(SystemTime::now());
        let report = remove(&ctx, "purge", plan, &|_| true, false, false).unwrap();
        assert!(path.exists(), "deleted though written since the plan");
        assert!(!report.sessions[0].changed);
    }
}
