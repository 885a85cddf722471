//! Keeps the disk view current on its own: an OS watcher (inotify on Linux,
//! notify's native watcher elsewhere, or a stat poller) reports changes
//! under `MobileApps`; a settle loop batches them (`settle_ms`, 50 ms by
//! default, never more than ten of those) and applies each batch to the
//! core in one transaction, re-reading only the files named.
//!
//! With inotify the watcher is also the core's push barrier ([`barrier`]).
//! Overflow — the kernel's `IN_Q_OVERFLOW` or our bounded queue — triggers
//! a full rescan, counted in `status`. If inotify cannot watch (limits),
//! the daemon says so and falls back to polling.
//!
//! notify-debouncer-full is not used: it merges and re-times events, which
//! breaks the ordering the push barrier relies on.

pub mod barrier;
#[cfg(target_os = "linux")]
mod inotify;
#[cfg(not(target_os = "linux"))]
mod native;
mod poll;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, WatcherMode};
use crate::core::{Core, PushBarrier, Txn};
use crate::model::names::{is_app_folder_name, is_session_name, MANIFEST};
use barrier::CookieBarrier;

#[cfg(target_os = "linux")]
const NATIVE: &str = "inotify";
#[cfg(not(target_os = "linux"))]
const NATIVE: &str = "native";

/// Events queued between the OS watcher and the settle loop.
pub const DEFAULT_QUEUE: usize = 65_536;
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(50);
pub const DEFAULT_POLL: Duration = Duration::from_millis(1000);

/// What an OS watcher tells the settle loop.
enum Msg {
    Paths(Vec<PathBuf>),
    /// A push barrier's cookie appeared.
    Cookie(String),
    Rescan(&'static str),
    /// The OS watcher cannot go on (watch limit): switch to polling.
    Failed(String),
}

type Sender = mpsc::Sender<Msg>;

/// Never blocks the OS watcher's thread: a full queue becomes a rescan.
fn forward(tx: &Sender, overflow: &AtomicBool, msg: Msg) -> bool {
    match tx.try_send(msg) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(msg @ (Msg::Cookie(_) | Msg::Failed(_)))) => {
            // Neither may be lost: a push waits for its cookie, and a
            // failed watcher must be replaced (a rescan alone would leave
            // it vouching for folders it no longer watches).
            let tx = tx.clone();
            std::thread::spawn(move || tx.blocking_send(msg));
            overflow.store(true, Ordering::Relaxed);
            true
        }
        Err(_) => {
            overflow.store(true, Ordering::Relaxed);
            false
        }
    }
}

/// Holding one keeps the OS watcher running.
enum OsWatcher {
    #[cfg(target_os = "linux")]
    Inotify(#[allow(dead_code)] inotify::InotifyWatcher),
    #[cfg(not(target_os = "linux"))]
    Native(#[allow(dead_code)] notify::RecommendedWatcher),
    Poll(#[allow(dead_code)] poll::Poller),
}

#[cfg(target_os = "linux")]
fn native_watcher(
    root: &Path,
    tx: Sender,
    overflow: Arc<AtomicBool>,
) -> std::io::Result<OsWatcher> {
    inotify::InotifyWatcher::start(root, tx, overflow).map(OsWatcher::Inotify)
}

#[cfg(not(target_os = "linux"))]
fn native_watcher(
    root: &Path,
    tx: Sender,
    overflow: Arc<AtomicBool>,
) -> std::io::Result<OsWatcher> {
    native::start(root, tx, overflow)
}

/// What the OS watcher handed to the loop since the last flush.
#[derive(Default)]
struct Batch {
    paths: BTreeSet<PathBuf>,
    cookies: Vec<String>,
    rescan: Option<&'static str>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.cookies.is_empty() && self.rescan.is_none()
    }
}

/// Settings drawn from the config.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub mode: WatcherMode,
    pub settle: Duration,
    pub poll_interval: Duration,
    pub queue: usize,
}

impl WatchSettings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            mode: c.watcher,
            settle: c.settle_ms.map_or(DEFAULT_SETTLE, Duration::from_millis),
            poll_interval: c
                .poll_interval_ms
                .map_or(DEFAULT_POLL, Duration::from_millis),
            queue: c.watch_queue.unwrap_or(DEFAULT_QUEUE).max(1),
        }
    }
}

/// The OS watcher, started before the first scan so that no change falls
/// between the two; the settle loop starts once the core exists.
pub struct Pending {
    os: Option<OsWatcher>,
    rx: mpsc::Receiver<Msg>,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    barrier: Option<Arc<CookieBarrier>>,
    state_text: String,
    settings: WatchSettings,
    root: PathBuf,
}

/// Starts watching `root`.
pub fn prepare(root: &Path, settings: WatchSettings) -> Pending {
    let (tx, rx) = mpsc::channel(settings.queue);
    let overflow = Arc::new(AtomicBool::new(false));
    let poll = |why: Option<String>| {
        let text = match &why {
            None => format!("poll (every {} ms)", settings.poll_interval.as_millis()),
            Some(w) => format!(
                "poll (every {} ms; inotify unavailable: {w})",
                settings.poll_interval.as_millis()
            ),
        };
        match poll::start(root, tx.clone(), overflow.clone(), settings.poll_interval) {
            Ok(w) => (Some(w), text),
            Err(e) => {
                tracing::error!(
                    "cannot watch {}: {e}; changes are seen only by refresh and push",
                    root.display()
                );
                (None, format!("off (cannot watch: {e})"))
            }
        }
    };
    let ((os, state_text), barrier) = match settings.mode {
        WatcherMode::Poll => (poll(None), None),
        WatcherMode::Auto => match native_watcher(root, tx.clone(), overflow.clone()) {
            Ok(w) => (
                (Some(w), NATIVE.to_string()),
                // Only an ordered event queue can answer a push's cookie.
                cfg!(target_os = "linux").then(|| Arc::new(CookieBarrier::new(root))),
            ),
            Err(e) => {
                tracing::warn!(
                    "cannot watch {} natively: {e}; falling back to polling",
                    root.display()
                );
                (poll(Some(e.to_string())), None)
            }
        },
    };
    Pending {
        os,
        rx,
        tx,
        overflow,
        barrier,
        state_text,
        settings,
        root: root.to_path_buf(),
    }
}

/// The running watcher.
pub struct WatcherHandle {
    task: tokio::task::JoinHandle<()>,
}

impl WatcherHandle {
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

impl Pending {
    /// Tells the core how it is watched (and gives it the push barrier),
    /// then starts the settle loop.
    pub fn start(self, core: Arc<Core>, shutdown: CancellationToken) -> WatcherHandle {
        core.set_watcher_state(self.state_text.clone());
        core.set_barrier(self.barrier.clone().map(|b| b as Arc<dyn PushBarrier>));
        let task = tokio::spawn(settle_loop(self, core, shutdown));
        WatcherHandle { task }
    }
}

async fn settle_loop(mut w: Pending, core: Arc<Core>, shutdown: CancellationToken) {
    let mut batch = Batch::default();
    // A barrier the failed watcher had: its cookies still in the batch are
    // answered once the batch (and its rescan) is applied.
    let mut retired: Option<Arc<CookieBarrier>> = None;
    let mut first: Option<Instant> = None;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            msg = w.rx.recv() => {
                let Some(msg) = msg else { break };
                match msg {
                    Msg::Paths(p) => batch.paths.extend(p),
                    Msg::Cookie(c) => batch.cookies.push(c),
                    Msg::Rescan(why) => batch.rescan = Some(why),
                    Msg::Failed(why) => {
                        tracing::warn!("inotify: {why}; falling back to polling");
                        w.os = None;
                        retired = w.barrier.take().or(retired);
                        core.set_barrier(None);
                        match poll::start(&w.root, w.tx.clone(), w.overflow.clone(), w.settings.poll_interval) {
                            Ok(p) => {
                                w.os = Some(p);
                                core.set_watcher_state(format!("poll (inotify failed: {why})"));
                            }
                            Err(e) => core.set_watcher_state(format!("off (inotify failed: {why}; polling failed: {e})")),
                        }
                        batch.rescan = Some("the watcher changed");
                    }
                }
                let now = Instant::now();
                let start = *first.get_or_insert(now);
                // Settle: wait for a quiet period, but never more than 10 of them.
                let quiet = now + w.settings.settle;
                let cap = start + w.settings.settle * 10;
                deadline = Some(tokio::time::Instant::from_std(quiet.min(cap)));
            }
            _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } }, if deadline.is_some() => {}
        }
        if w.overflow.swap(false, Ordering::Relaxed) {
            batch.rescan.get_or_insert("the event queue overflowed");
        }
        let due = !batch.cookies.is_empty()
            || batch.rescan.is_some()
            || deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        if due && !batch.is_empty() {
            let b = std::mem::take(&mut batch);
            first = None;
            deadline = None;
            let c = core.clone();
            let cookies = b.cookies.clone();
            let applied = tokio::task::spawn_blocking(move || apply(&c, b)).await;
            // Only a batch applied vouches for its cookies; after a panic
            // their pushes time out and rescan.
            if applied.is_ok() {
                if let Some(barrier) = w.barrier.as_ref().or(retired.as_ref()) {
                    barrier.release(&cookies);
                }
            }
            retired = None;
        } else if batch.is_empty() {
            first = None;
            deadline = None;
        }
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
        for p in &batch.paths {
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
