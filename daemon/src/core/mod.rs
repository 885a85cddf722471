//! [`Core`]: the object that owns the two views, their locks and the event
//! channel. Everything that changes a file or a view goes through a [`Txn`],
//! which holds the write lock for its whole life and keeps the disk view in
//! step with every file it writes (`txn.rs`); what is read of the files is
//! applied to the disk view by [`crate::model::reconcile`]'s rules
//! (`sync.rs`), the core doing only the locking, the I/O and the retries.
//!
//! # Locks
//!
//! Every lock of `Core`, and when each may be taken, is listed on
//! [`Core`] and in ARCHITECTURE.md ("Locks"): `write` → `disk` → `live`,
//! always in that order, and the leaf locks last, alone.
//!
//! # Push barrier
//!
//! A push must see every change completed before it was issued, even one
//! the watcher has not reported yet. The core asks a [`PushBarrier`] (the
//! inotify watcher implements it) to confirm that, *before* taking the write
//! lock — the watcher needs that lock to apply what it has queued. Without a
//! barrier, or when it cannot confirm, the push rescans every file instead.

mod barrier;
mod retry;
mod sync;
mod txn;
mod writing;

pub use crate::model::reconcile::Retry;
pub use barrier::PushBarrier;
pub use retry::{run as run_retries, RetryQueue};
pub use txn::{Txn, REWRITE_ATTEMPTS};

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use mobile_session_proto::{Event, PushReport};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::locks::{lock, read, write};
use crate::model::view::{self, DiskView, LiveView};
use crate::store::{SessionStore, StoreError};

/// Events buffered per `watch` client before it is told it lagged.
pub const EVENT_BUFFER: usize = 1024;

/// The session counts `status` shows, refreshed when each [`Txn`] ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub live: u64,
    pub on_disk: u64,
    pub unpushed: u64,
    pub invalid: u64,
    pub unreadable_folders: Vec<String>,
}

/// Counters of the daemon's life that no lock guards.
#[derive(Debug, Default)]
pub struct Stats {
    pub rescans: AtomicU64,
    pub read_errors: AtomicU64,
    pub connections: AtomicU64,
    pub watchers: AtomicU64,
}

/// The daemon's state. Its locks nest in one order only: `write` → `disk`
/// → `live`, then at most one *leaf* lock (`config`, `barrier`,
/// `retries`, `counts`, `watcher_state`, `push_listener`, `holds`), taken
/// last, held for a copy or an assignment, never across I/O or while taking
/// another lock.
pub struct Core {
    store: SessionStore,
    /// Leaf. The configuration in force: copied out (an `Arc`) by whoever
    /// needs it, replaced by a reload.
    config: RwLock<Arc<Config>>,
    /// Serialises every change; holding it is a [`Txn`]. Held across file
    /// I/O, so never taken by `verify`, `status` or a listing.
    write: Mutex<()>,
    /// The disk view. Memory only: never held across file I/O.
    disk: Mutex<DiskView>,
    /// The live view. Memory only; `verify` takes its read lock alone.
    live: RwLock<LiveView>,
    /// Not a lock of ours: a send never blocks, under any lock.
    events: broadcast::Sender<Event>,
    /// Leaf. The watcher's push barrier: copied out before a push takes
    /// `write` (the watcher needs `write` to answer it).
    barrier: RwLock<Option<Arc<dyn PushBarrier>>>,
    /// Leaf. Reads to try again: updated when a `Txn` has applied a read,
    /// after `disk` is let go; polled by the retry task.
    retries: Mutex<RetryQueue>,
    /// Leaf. What `status` shows: written when a `Txn` ends (after `disk`
    /// and `live` are let go), read by `status` without any view lock.
    counts: Mutex<Counts>,
    /// Leaf. How the folder is watched, for `status`.
    watcher_state: Mutex<String>,
    /// Leaf. Told the report of each push that changed the live view.
    push_listener: Mutex<Option<tokio::sync::mpsc::Sender<PushReport>>>,
    /// Leaf (inside). Files being written, whose last good reading stands.
    holds: writing::Holds,
    pub stats: Stats,
}

impl Core {
    /// Scans the folder and pushes: the live view starts as the valid files.
    pub fn open(store: SessionStore, config: Config) -> Result<Self, StoreError> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let core = Self {
            store,
            config: RwLock::new(Arc::new(config)),
            write: Mutex::new(()),
            disk: Mutex::new(DiskView::default()),
            live: RwLock::new(LiveView::default()),
            events,
            barrier: RwLock::new(None),
            retries: Mutex::new(RetryQueue::default()),
            counts: Mutex::new(Counts::default()),
            watcher_state: Mutex::new("off".to_string()),
            push_listener: Mutex::new(None),
            holds: writing::Holds::default(),
            stats: Stats::default(),
        };
        {
            let mut txn = core.txn();
            let (leftovers, live) = txn.first_scan()?;
            if leftovers > 0 {
                tracing::info!("removed {leftovers} temporary files left by interrupted writes");
            }
            // Whatever the scan's follow-ups changed since; and the report.
            txn.push_after(live);
        }
        Ok(core)
    }

    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    pub fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    /// Replaces the configuration (a reload); requests in flight keep theirs.
    pub fn set_config(&self, config: Config) {
        *write(&self.config) = Arc::new(config);
    }

    /// Starts a change: waits for the write lock.
    pub fn txn(&self) -> Txn<'_> {
        Txn::begin(self)
    }

    /// Reads both views at one instant. In memory only: `f` must not do I/O.
    pub fn read_views<R>(&self, f: impl FnOnce(&DiskView, &LiveView) -> R) -> R {
        let disk = lock(&self.disk);
        let live = read(&self.live);
        f(&disk, &live)
    }

    /// Reads the live view (`verify`). In memory only: `f` must not do I/O.
    pub fn read_live<R>(&self, f: impl FnOnce(&LiveView) -> R) -> R {
        f(&read(&self.live))
    }

    /// The counts as the last change left them; takes no view lock.
    pub fn counts(&self) -> Counts {
        lock(&self.counts).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn emit(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    pub fn set_barrier(&self, barrier: Option<Arc<dyn PushBarrier>>) {
        *write(&self.barrier) = barrier;
    }

    /// How the folder is watched, with any problem (shown by `status`).
    pub fn set_watcher_state(&self, text: impl Into<String>) {
        *lock(&self.watcher_state) = text.into();
    }

    pub fn watcher_state(&self) -> String {
        lock(&self.watcher_state).clone()
    }

    /// `push`: brings the disk view up to date, then applies it to the live
    /// view (`MOBILE APP REFRESH SESSIONS`). With a barrier that confirms,
    /// the cost follows what changed; `full` (or no barrier) re-reads every
    /// file instead.
    pub fn push(&self, full: bool) -> Result<PushReport, StoreError> {
        Ok(self.current(full)?.push())
    }

    /// `push --dry-run`: brings the disk view up to date as [`Core::push`]
    /// does, then says what the push would report, the live view untouched.
    pub fn push_preview(&self, full: bool) -> Result<PushReport, StoreError> {
        let txn = self.current(full)?;
        let mut report = txn.views(|disk, live| view::preview(self.store.root(), disk, live));
        // As the push would report them: their last good reading stands.
        report.writing = self.writing_files();
        Ok(report)
    }

    /// A change whose disk view holds every change completed before it
    /// began: a barrier confirmed it, else (or with `full`) a rescan.
    fn current(&self, full: bool) -> Result<Txn<'_>, StoreError> {
        // Outside the write lock: the watcher needs it to catch up.
        let barrier = read(&self.barrier).clone();
        let synced = !full && barrier.is_some_and(|b| b.sync());
        let mut txn = self.txn();
        if !synced {
            if !full {
                tracing::debug!("push: no watcher confirmed the folder is current; rescanning");
            }
            txn.rescan(false)?;
        }
        Ok(txn)
    }

    /// Where the reports of pushes that changed the live view go (the
    /// `on_push` runner); a full queue drops a report, with a warning.
    pub fn set_push_listener(&self, tx: Option<tokio::sync::mpsc::Sender<PushReport>>) {
        *lock(&self.push_listener) = tx;
    }

    fn pushed(&self, report: &PushReport) {
        if report.added + report.updated + report.removed == 0 {
            return;
        }
        let listener = lock(&self.push_listener).clone();
        if let Some(tx) = listener {
            if tx.try_send(report.clone()).is_err() && !tx.is_closed() {
                tracing::warn!("on_push is behind: a push report was dropped");
            }
        }
    }

    /// Files and folders whose last read hit a transient error and are due again.
    pub fn due_retries(&self, now: Instant) -> Vec<Retry> {
        lock(&self.retries).due(now)
    }

    /// When the next retry is due, if any.
    pub fn next_retry(&self) -> Option<Instant> {
        lock(&self.retries).next_due()
    }

    fn update_counts(&self) {
        let counts = {
            let disk = lock(&self.disk);
            let live = read(&self.live);
            Counts {
                live: live.len() as u64,
                on_disk: disk.valid_count(),
                unpushed: view::unpushed_count(&disk, &live),
                invalid: disk.invalid_count(),
                unreadable_folders: disk
                    .apps()
                    .iter()
                    .filter(|(_, a)| a.meta.unreadable)
                    .map(|(f, _)| f.clone())
                    .collect(),
            }
        };
        *lock(&self.counts) = counts;
    }
}

impl crate::model::reconcile::Sink for Core {
    fn send(&self, event: Event) {
        self.emit(event);
    }
}

/// Limits glibc to one malloc arena per core (its default is eight per
/// core). Scan workers and the blocking pool otherwise each fill an arena of
/// their own with a rescan's short-lived buffers, and the holes left between
/// long-lived entries make the RSS creep up a little with every full push;
/// with as many arenas as cores it stays flat (measured by `bench/run`).
/// Call it first thing, before any thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(2);
        // SAFETY: mallopt only sets an allocator parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Hands freed memory back to the OS: glibc keeps freed blocks in its
/// arenas otherwise, and the RSS would carry them.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The entry a disk view holds for one key (tests).
#[cfg(test)]
impl Core {
    fn disk_entry(&self, folder: &str, name: &str) -> Option<view::DiskEntry> {
        lock(&self.disk)
            .get(&crate::model::names::SessionKey::new(folder, name))
            .cloned()
    }
}

#[cfg(test)]
mod tests;
