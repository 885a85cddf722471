//! Keeps the disk view current on its own: an OS watcher (inotify on Linux,
//! notify's native watcher elsewhere, or a stat poller) reports changes
//! under `MobileApps`; the settle loop ([`settle`]) applies them to the
//! core in batches, re-reading only the files named. A file a writer has
//! closed (or renamed into place, or removed) is applied at once; one
//! still being written settles first (`settle_ms`, 50 ms by default, never
//! more than ten of those), and what it reads as while its writer still
//! has it open is held back if it is not valid (`write_grace_ms`).
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
mod settle;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, WatcherMode};
use crate::core::{Core, PushBarrier};
use barrier::CookieBarrier;
use settle::settle_loop;

#[cfg(target_os = "linux")]
const NATIVE: &str = "inotify";
#[cfg(not(target_os = "linux"))]
const NATIVE: &str = "native";

/// Events queued between the OS watcher and the settle loop.
pub const DEFAULT_QUEUE: usize = 65_536;
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(50);
pub const DEFAULT_POLL: Duration = Duration::from_millis(1000);

/// What an event says of the paths it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Written into, or created: a writer may still have it open. It
    /// settles, and counts as open for writing until it is closed.
    Writing,
    /// Complete: a writer closed it, or it was renamed or removed. Applied
    /// at once; it counts as closed.
    Done,
    /// The poller saw it differ from its last pass: it settles, and counts
    /// as open for writing until a pass could have seen it again.
    Polled,
    /// Anything else (a folder, a chmod): it settles.
    Changed,
    /// A file held as being written, to read again. Applied at once.
    Recheck,
}

impl Touch {
    /// Whether the path is applied at once rather than after the settle.
    fn ends_settle(self) -> bool {
        matches!(self, Touch::Done | Touch::Recheck)
    }
}

/// What an OS watcher tells the settle loop.
enum Msg {
    Paths(Vec<PathBuf>, Touch),
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
