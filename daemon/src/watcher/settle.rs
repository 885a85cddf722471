//! The settle loop: takes what the OS watcher reports, tells the core what
//! it learns of writers, and applies batches to the core, each in one
//! transaction on the blocking pool.
//!
//! When a batch is applied:
//! - a path whose writer closed it (`IN_CLOSE_WRITE`), or that was renamed
//!   or removed, is applied at once: nothing more is coming;
//! - the others (written into and still open, polled, folders) wait for a
//!   quiet `settle_ms`, never more than ten of those;
//! - a push's cookie or a rescan flushes everything.
//!
//! Everything that arrived meanwhile is taken before deciding, so a burst
//! still makes few transactions. Files the core holds as being written are
//! read again when their grace ends (and, when polling, at every pass).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::barrier::CookieBarrier;
use super::{poll, Msg, OsWatcher, Pending, Touch};
use crate::core::{Core, Txn};
use crate::model::names::{is_app_folder_name, is_session_name, MANIFEST};

/// What the OS watcher handed to the loop and is not applied yet.
#[derive(Default)]
struct Batch {
    /// Each path with what its last event said.
    paths: BTreeMap<PathBuf, Touch>,
    cookies: Vec<String>,
    rescan: Option<&'static str>,
    /// When the oldest waiting path arrived, and when the wait ends.
    first: Option<Instant>,
    deadline: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.cookies.is_empty() && self.rescan.is_none()
    }

    /// Settle: wait for a quiet period, but never more than 10 of them.
    fn arrived(&mut self, now: Instant, settle: std::time::Duration) {
        let start = *self.first.get_or_insert(now);
        self.deadline = Some((now + settle).min(start + settle * 10));
    }

    /// What is due at `now`, if anything, and whether that is everything.
    fn due(&mut self, now: Instant) -> Option<(Batch, bool)> {
        let all = !self.cookies.is_empty()
            || self.rescan.is_some()
            || self.deadline.is_some_and(|d| now >= d)
            || (!self.paths.is_empty() && self.paths.values().all(|t| t.ends_settle()));
        if all {
            let b = std::mem::take(self);
            return (!b.is_empty()).then_some((b, true));
        }
        if !self.paths.values().any(|t| t.ends_settle()) {
            return None;
        }
        let mut done = BTreeMap::new();
        self.paths.retain(|p, t| {
            let keep = !t.ends_settle();
            if !keep {
                done.insert(p.clone(), *t);
            }
            keep
        });
        let part = Batch {
            paths: done,
            ..Batch::default()
        };
        Some((part, false))
    }
}

pub(super) async fn settle_loop(mut w: Pending, core: Arc<Core>, shutdown: CancellationToken) {
    let mut batch = Batch::default();
    // A barrier the failed watcher had: its cookies still in the batch are
    // answered once the batch (and its rescan) is applied.
    let mut retired: Option<Arc<CookieBarrier>> = None;
    let mut rechecked = Instant::now();
    loop {
        let polling = matches!(w.os, Some(OsWatcher::Poll(_)));
        let recheck = next_recheck(
            &core,
            polling.then_some(rechecked + w.settings.poll_interval),
        );
        let deadline = batch.deadline;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            msg = w.rx.recv() => {
                let Some(msg) = msg else { break };
                let now = Instant::now();
                take(&mut w, &core, &mut batch, &mut retired, msg, now);
                while let Ok(msg) = w.rx.try_recv() {
                    take(&mut w, &core, &mut batch, &mut retired, msg, now);
                }
                batch.arrived(now, w.settings.settle);
            }
            _ = sleep_until(deadline), if deadline.is_some() => {}
            _ = sleep_until(recheck), if recheck.is_some() => {
                rechecked = Instant::now();
                for p in core.held_to_recheck(polling) {
                    batch.paths.insert(p, Touch::Recheck);
                }
            }
            // A file held by a push's rescan: its grace is timed above.
            _ = core.hold_started() => {}
        }
        if w.overflow.swap(false, Ordering::Relaxed) {
            batch.rescan.get_or_insert("the event queue overflowed");
        }
        let Some((due, all)) = batch.due(Instant::now()) else {
            continue;
        };
        let c = core.clone();
        let cookies = due.cookies.clone();
        let applied = tokio::task::spawn_blocking(move || apply(&c, due)).await;
        // Only a batch applied vouches for its cookies; after a panic
        // their pushes time out and rescan.
        if applied.is_ok() && !cookies.is_empty() {
            if let Some(barrier) = w.barrier.as_ref().or(retired.as_ref()) {
                barrier.release(&cookies);
            }
        }
        if all {
            retired = None;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

/// When held files are next read again: when a grace ends, or at the
/// poller's next pass while any is held.
fn next_recheck(core: &Core, next_pass: Option<Instant>) -> Option<Instant> {
    let expiry = core.next_hold_expiry()?;
    Some(next_pass.map_or(expiry, |p| p.min(expiry)))
}

/// Takes one message into the batch, and tells the core what it says of
/// writers.
fn take(
    w: &mut Pending,
    core: &Core,
    batch: &mut Batch,
    retired: &mut Option<Arc<CookieBarrier>>,
    msg: Msg,
    now: Instant,
) {
    match msg {
        Msg::Paths(paths, touch) => {
            for p in paths {
                note_writer(w, core, &p, touch, now);
                batch.paths.insert(p, touch);
            }
        }
        Msg::Cookie(c) => batch.cookies.push(c),
        Msg::Rescan(why) => batch.rescan = Some(why),
        Msg::Failed(why) => {
            tracing::warn!("inotify: {why}; falling back to polling");
            w.os = None;
            *retired = w.barrier.take().or(retired.take());
            core.set_barrier(None);
            match poll::start(
                &w.root,
                w.tx.clone(),
                w.overflow.clone(),
                w.settings.poll_interval,
            ) {
                Ok(p) => {
                    w.os = Some(p);
                    core.set_watcher_state(format!("poll (inotify failed: {why})"));
                }
                Err(e) => core
                    .set_watcher_state(format!("off (inotify failed: {why}; polling failed: {e})")),
            }
            batch.rescan = Some("the watcher changed");
        }
    }
}

/// The watcher's word on who writes `path`, for where no lease can tell.
fn note_writer(w: &Pending, core: &Core, path: &Path, touch: Touch, now: Instant) {
    match touch {
        // Until closed; past the grace nothing is held anyway.
        Touch::Writing => core.note_writing(path, now + core.config().write_grace()),
        // Until a pass could have seen it change again.
        Touch::Polled => {
            core.note_writing(path, now + w.settings.poll_interval + w.settings.settle)
        }
        Touch::Done => core.note_closed(path),
        Touch::Changed | Touch::Recheck => {}
    }
}

/// Applies one batch in one transaction.
fn apply(core: &Core, batch: Batch) {
    let mut txn = core.txn();
    if let Some(why) = batch.rescan {
        tracing::warn!("full rescan: {why}");
        if let Err(e) = txn.rescan(true) {
            tracing::error!("rescan failed: {e}");
        }
    } else {
        for p in batch.paths.keys() {
            apply_path(&mut txn, p);
        }
    }
    if txn.config().auto_push && (batch.rescan.is_some() || !batch.paths.is_empty()) {
        txn.push();
    }
}

/// Brings the disk view in line with one reported path.
fn apply_path(txn: &mut Txn<'_>, path: &Path) {
    let root = txn.store().root().to_path_buf();
    let Ok(rel) = path.strip_prefix(&root) else {
        return;
    };
    // A name that is not UTF-8 is no app folder or session of ours.
    let Some(parts) = rel
        .iter()
        .map(|c| c.to_str())
        .collect::<Option<Vec<&str>>>()
    else {
        return;
    };
    match parts.as_slice() {
        [folder] if is_app_folder_name(folder) => {
            let is_dir = std::fs::symlink_metadata(root.join(folder)).is_ok_and(|m| m.is_dir());
            if is_dir {
                // Files written before the new folder's watch existed are found here.
                txn.sync_folder(folder);
            } else {
                txn.forget_folder(folder);
            }
        }
        [folder, MANIFEST] if is_app_folder_name(folder) => txn.refresh_manifest(folder),
        [folder, name]
            if is_app_folder_name(folder)
                && is_session_name(name)
                && std::fs::symlink_metadata(root.join(folder)).is_ok_and(|m| m.is_dir()) =>
        {
            txn.refresh_file(folder, name);
        }
        _ => {}
    }
}
