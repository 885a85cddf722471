//! Keeps the disk view current on its own: the OS watcher (inotify on
//! Linux, notify's native watcher elsewhere, or a stat poller) reports
//! changes under `MobileApps`, a settle loop batches them (`settle_ms`,
//! 50 ms by default) and re-reads only the files named.
//!
//! **Push sync.** A push must see every change completed before it was
//! issued, even one not reported yet. With inotify, the push creates a
//! cookie dot-file and waits until the loop sees its event: inotify queues
//! events in order, so every earlier change is in the batch the cookie
//! flushes. That keeps a push proportional to what changed. A polling
//! watcher gives no such order, so in polling mode a push rescans.
//!
//! (notify-debouncer-full is not used: it merges and re-times events, which
//! breaks exactly that ordering.)
//!
//! On Linux the daemon talks to inotify directly, watching the root and each
//! app folder with a mask that leaves out `IN_OPEN`: notify's recursive
//! watcher asks for opens, so every read of a session file — ours during a
//! rescan, or the 4D server's — would wake the daemon. Elsewhere notify's
//! native watcher is used.
//!
//! Overflow: the kernel's (`IN_Q_OVERFLOW`) or our bounded queue's triggers
//! a full rescan, counted in `status`. If inotify cannot watch (limits), the
//! daemon says so and falls back to polling.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, WatcherMode};
use crate::session::{is_app_folder_name, is_session_name};
use crate::state::State;

#[cfg(target_os = "linux")]
const NATIVE: &str = "inotify";
#[cfg(not(target_os = "linux"))]
const NATIVE: &str = "native";

const COOKIE_PREFIX: &str = ".mobile-sessiond-sync-";
/// Events queued between the OS watcher and the settle loop.
pub const DEFAULT_QUEUE: usize = 65_536;
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(50);
pub const DEFAULT_POLL: Duration = Duration::from_millis(1000);
/// How long a push waits for its cookie before it rescans instead.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

enum Msg {
    Paths(Vec<PathBuf>),
    Cookie(String),
    Rescan(&'static str),
    /// The OS watcher cannot go on (watch limit): switch to polling.
    Failed(String),
}

/// Lets a push wait until the watcher has applied every earlier change.
pub struct WatchSync {
    root: PathBuf,
    next: AtomicU64,
    waiters: Mutex<HashMap<String, std_mpsc::SyncSender<()>>>,
}

impl WatchSync {
    fn new(root: PathBuf) -> Self {
        Self {
            root,
            next: AtomicU64::new(0),
            waiters: Mutex::new(HashMap::new()),
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<String, std_mpsc::SyncSender<()>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until every change made before the call is in the disk view.
    /// False if the watcher did not answer in time.
    pub fn sync(&self) -> bool {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{COOKIE_PREFIX}{}-{n}", std::process::id());
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.waiters().insert(name.clone(), tx);
        let path = self.root.join(&name);
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map(drop);
        let ok = created.is_ok() && rx.recv_timeout(SYNC_TIMEOUT).is_ok();
        self.waiters().remove(&name);
        let _ = std::fs::remove_file(&path);
        ok
    }

    fn release(&self, cookies: &[String]) {
        let mut w = self.waiters();
        for c in cookies {
            if let Some(tx) = w.remove(c) {
                let _ = tx.try_send(());
            }
        }
    }
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

/// The running watcher; dropping it stops the OS watcher.
pub struct WatcherHandle {
    task: tokio::task::JoinHandle<()>,
}

impl WatcherHandle {
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

type Sender = mpsc::Sender<Msg>;

#[cfg(not(target_os = "linux"))]
const ACCESS_WRITTEN: notify::event::AccessKind =
    notify::event::AccessKind::Close(notify::event::AccessMode::Write);

#[cfg(not(target_os = "linux"))]
fn handler(
    tx: Sender,
    overflow: Arc<AtomicBool>,
) -> impl FnMut(notify::Result<notify::Event>) + Send + 'static {
    move |res| {
        let msg = match res {
            Ok(ev) if ev.need_rescan() => Msg::Rescan("the OS event queue overflowed"),
            // Reads are not changes (and our own would feed back into re-reads).
            Ok(ev) if matches!(ev.kind, notify::EventKind::Access(a) if a != ACCESS_WRITTEN) => {
                return
            }
            Ok(ev) => {
                let mut paths = Vec::with_capacity(ev.paths.len());
                for p in ev.paths {
                    match p.file_name().and_then(|n| n.to_str()) {
                        Some(n) if n.starts_with(COOKIE_PREFIX) => {
                            let _ = forward(&tx, &overflow, Msg::Cookie(n.to_string()));
                        }
                        _ => paths.push(p),
                    }
                }
                if paths.is_empty() {
                    return;
                }
                Msg::Paths(paths)
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                Msg::Failed(e.to_string())
            }
            Err(e) => {
                tracing::warn!("file watcher: {e}");
                Msg::Rescan("the file watcher reported an error")
            }
        };
        let _ = forward(&tx, &overflow, msg);
    }
}

/// Never blocks the OS watcher's thread: a full queue becomes a rescan.
fn forward(tx: &Sender, overflow: &AtomicBool, msg: Msg) -> bool {
    match tx.try_send(msg) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(Msg::Cookie(c))) => {
            // A cookie must not be lost: its push waits for it.
            let tx = tx.clone();
            std::thread::spawn(move || tx.blocking_send(Msg::Cookie(c)));
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
    Inotify(#[allow(dead_code)] linux::InotifyWatcher),
    #[cfg(not(target_os = "linux"))]
    Native(#[allow(dead_code)] notify::RecommendedWatcher),
    Poll(#[allow(dead_code)] Poller),
}

/// A polling watcher: every interval it lstat()s the app folders and session
/// files and reports what differs. (notify's PollWatcher compares mtimes in
/// whole seconds, so it misses a quick second edit unless it hashes every
/// file on every pass, which polling on a network FS cannot afford.)
struct Poller {
    stop: std_mpsc::Sender<()>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// What a pass remembers of each path: enough to see any rewrite.
type Stamp = (u64, u64, i64, i64, i64, i64);

fn stamp(m: &std::fs::Metadata) -> Stamp {
    (
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

fn poll_pass(root: &Path) -> HashMap<PathBuf, Stamp> {
    let mut seen = HashMap::new();
    let Ok(dir) = std::fs::read_dir(root) else {
        return seen;
    };
    for app in dir.flatten() {
        let name = app.file_name();
        let Some(folder) = name.to_str().filter(|n| is_app_folder_name(n)) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(app.path()) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        seen.insert(root.join(folder), (meta.ino(), 0, 0, 0, 0, 0));
        let Ok(files) = std::fs::read_dir(app.path()) else {
            continue;
        };
        for f in files.flatten() {
            if f.file_name().to_str().is_some_and(is_session_name) {
                if let Ok(m) = std::fs::symlink_metadata(f.path()) {
                    seen.insert(f.path(), stamp(&m));
                }
            }
        }
    }
    seen
}

fn poll_watcher(
    root: &Path,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    interval: Duration,
) -> notify::Result<OsWatcher> {
    if !root.is_dir() {
        return Err(notify::Error::path_not_found().add_path(root.to_path_buf()));
    }
    let (stop, stopped) = std_mpsc::channel::<()>();
    let root = root.to_path_buf();
    std::thread::Builder::new()
        .name("mobile-sessiond-poll".into())
        .spawn(move || {
            let mut before = poll_pass(&root);
            // Ends when the Poller is dropped.
            while let Err(std_mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let now = poll_pass(&root);
                let mut changed: Vec<PathBuf> = now
                    .iter()
                    .filter(|(p, s)| before.get(*p) != Some(*s))
                    .map(|(p, _)| p.clone())
                    .collect();
                changed.extend(before.keys().filter(|p| !now.contains_key(*p)).cloned());
                if !changed.is_empty() {
                    forward(&tx, &overflow, Msg::Paths(changed));
                }
                before = now;
            }
        })
        .map_err(notify::Error::io)?;
    Ok(OsWatcher::Poll(Poller { stop }))
}

#[cfg(target_os = "linux")]
fn native_watcher(
    root: &Path,
    tx: Sender,
    overflow: Arc<AtomicBool>,
) -> std::io::Result<OsWatcher> {
    linux::InotifyWatcher::start(root, tx, overflow).map(OsWatcher::Inotify)
}

#[cfg(not(target_os = "linux"))]
fn native_watcher(root: &Path, tx: Sender, overflow: Arc<AtomicBool>) -> notify::Result<OsWatcher> {
    use notify::Watcher as _;
    let cfg = notify::Config::default().with_follow_symlinks(false);
    let mut w = notify::RecommendedWatcher::new(handler(tx, overflow), cfg)?;
    w.watch(root, notify::RecursiveMode::Recursive)?;
    Ok(OsWatcher::Native(w))
}

#[cfg(target_os = "linux")]
mod linux {
    //! inotify on the root and on each app folder (the tree is two levels deep).
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use futures::StreamExt;
    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

    use super::{forward, Msg, Sender, COOKIE_PREFIX};
    use crate::session::{is_app_folder_name, is_session_name};

    fn mask() -> WatchMask {
        WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::CLOSE_WRITE
            | WatchMask::MODIFY
            | WatchMask::ATTRIB
            | WatchMask::DELETE_SELF
            | WatchMask::MOVE_SELF
            | WatchMask::DONT_FOLLOW
            | WatchMask::ONLYDIR
    }

    /// Reads the inotify queue on the runtime; dropping it stops the reading.
    pub struct InotifyWatcher {
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for InotifyWatcher {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Watch descriptor → app folder (`None` for the root).
    type Folders = HashMap<WatchDescriptor, Option<String>>;

    fn add(
        watches: &mut Watches,
        folders: &mut Folders,
        root: &Path,
        folder: &str,
    ) -> std::io::Result<()> {
        let wd = watches.add(root.join(folder), mask())?;
        folders.insert(wd, Some(folder.to_string()));
        Ok(())
    }

    impl InotifyWatcher {
        pub fn start(root: &Path, tx: Sender, overflow: Arc<AtomicBool>) -> std::io::Result<Self> {
            let inotify = Inotify::init()?;
            let mut watches = inotify.watches();
            let mut folders = Folders::new();
            folders.insert(watches.add(root, mask())?, None);
            for entry in std::fs::read_dir(root)?.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if is_app_folder_name(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    add(&mut watches, &mut folders, root, &name)?;
                }
            }
            let mut stream = inotify.into_event_stream(vec![0u8; 64 * 1024])?;
            let root = root.to_path_buf();
            let task = tokio::spawn(async move {
                while let Some(event) = stream.next().await {
                    let event = match event {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::warn!("inotify: {e}");
                            forward(&tx, &overflow, Msg::Rescan("inotify reported an error"));
                            continue;
                        }
                    };
                    let name = event.name.and_then(|n| n.into_string().ok());
                    let msg = on_event(
                        &root,
                        &mut watches,
                        &mut folders,
                        event.wd,
                        event.mask,
                        name,
                    );
                    if let Some(msg) = msg {
                        forward(&tx, &overflow, msg);
                    }
                }
            });
            Ok(Self { task })
        }
    }

    fn on_event(
        root: &Path,
        watches: &mut Watches,
        folders: &mut Folders,
        wd: WatchDescriptor,
        mask: EventMask,
        name: Option<String>,
    ) -> Option<Msg> {
        if mask.contains(EventMask::Q_OVERFLOW) {
            return Some(Msg::Rescan("the inotify queue overflowed"));
        }
        if mask.contains(EventMask::IGNORED) {
            folders.remove(&wd);
            return None;
        }
        match (folders.get(&wd)?.clone(), name) {
            // The root itself went away or moved.
            (None, None) => Some(Msg::Rescan("MobileApps itself changed")),
            (None, Some(name)) if name.starts_with(COOKIE_PREFIX) => mask
                .contains(EventMask::CREATE)
                .then_some(Msg::Cookie(name)),
            (None, Some(name)) if is_app_folder_name(&name) => {
                if mask.contains(EventMask::ISDIR)
                    && mask.intersects(EventMask::CREATE | EventMask::MOVED_TO)
                {
                    // Files written before this watch exists are found when
                    // the folder is read (see `apply_path`).
                    if let Err(e) = add(watches, folders, root, &name) {
                        if e.raw_os_error() == Some(libc::ENOSPC) {
                            return Some(Msg::Failed(format!(
                                "the inotify watch limit is reached ({e})"
                            )));
                        }
                        tracing::debug!("cannot watch {name}: {e}");
                    }
                }
                Some(Msg::Paths(vec![root.join(name)]))
            }
            (None, Some(_)) => None,
            (Some(folder), Some(name)) if is_session_name(&name) => {
                Some(Msg::Paths(vec![root.join(folder).join(name)]))
            }
            (Some(_), Some(_)) => None,
            (Some(folder), None) => Some(Msg::Paths(vec![root.join(folder)])),
        }
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

/// The OS watcher, started before the first scan so nothing falls between.
pub struct Pending {
    os: Option<OsWatcher>,
    rx: mpsc::Receiver<Msg>,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    sync: Option<Arc<WatchSync>>,
    state_text: String,
    settings: WatchSettings,
    root: PathBuf,
}

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
        match poll_watcher(root, tx.clone(), overflow.clone(), settings.poll_interval) {
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
    let ((os, state_text), sync) = match settings.mode {
        WatcherMode::Poll => (poll(None), None),
        WatcherMode::Auto => match native_watcher(root, tx.clone(), overflow.clone()) {
            Ok(w) => (
                (Some(w), NATIVE.to_string()),
                // Only an ordered event queue can answer a push's cookie.
                cfg!(target_os = "linux").then(|| Arc::new(WatchSync::new(root.to_path_buf()))),
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
        sync,
        state_text,
        settings,
        root: root.to_path_buf(),
    }
}

impl Pending {
    /// Hands the watcher to the state and starts the settle loop.
    pub fn start(self, state: Arc<State>, shutdown: CancellationToken) -> WatcherHandle {
        state.set_watcher_state(self.state_text.clone());
        state.set_watch_sync(self.sync.clone());
        let task = tokio::spawn(settle_loop(self, state, shutdown));
        WatcherHandle { task }
    }
}

async fn settle_loop(mut w: Pending, state: Arc<State>, shutdown: CancellationToken) {
    let mut batch = Batch::default();
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
                        w.sync = None;
                        state.set_watch_sync(None);
                        match poll_watcher(&w.root, w.tx.clone(), w.overflow.clone(), w.settings.poll_interval) {
                            Ok(p) => {
                                w.os = Some(p);
                                state.set_watcher_state(format!("poll (inotify failed: {why})"));
                            }
                            Err(e) => state.set_watcher_state(format!("off (inotify failed: {why}; polling failed: {e})")),
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
            let s = state.clone();
            let cookies = b.cookies.clone();
            let _ = tokio::task::spawn_blocking(move || apply(&s, b)).await;
            if let Some(sync) = &w.sync {
                sync.release(&cookies);
            }
        } else if batch.is_empty() {
            first = None;
            deadline = None;
        }
    }
}

fn apply(state: &State, batch: Batch) {
    let _w = state.write_lock();
    if let Some(why) = batch.rescan {
        tracing::warn!("full rescan: {why}");
        if let Err(e) = state.rescan_counted_locked() {
            tracing::error!("rescan failed: {e}");
        }
    } else {
        for p in &batch.paths {
            apply_path(state, p);
        }
    }
    if state.config.auto_push && (batch.rescan.is_some() || !batch.paths.is_empty()) {
        state.push_locked();
    }
}

/// Brings the disk view in line with one reported path.
fn apply_path(state: &State, path: &Path) {
    let root = state.root();
    let Ok(rel) = path.strip_prefix(root) else {
        return;
    };
    let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
    match parts.as_slice() {
        [folder] if is_app_folder_name(folder) => {
            let is_dir = std::fs::symlink_metadata(root.join(folder)).is_ok_and(|m| m.is_dir());
            if is_dir {
                // Files written before the new folder's watch existed are found here.
                state.sync_folder_locked(folder);
            } else {
                state.forget_folder_locked(folder);
            }
        }
        [folder, name]
            if is_app_folder_name(folder)
                && is_session_name(name)
                && std::fs::symlink_metadata(root.join(folder)).is_ok_and(|m| m.is_dir()) =>
        {
            state.refresh_file_locked(folder, name);
        }
        _ => {}
    }
}
