//! [`Core`]: the object that owns the two views, their locks and the event
//! channel. Everything that changes a file or a view goes through a [`Txn`],
//! which holds the write lock for its whole life and keeps the disk view in
//! step with every file it writes.
//!
//! # Locks
//!
//! Three locks, always taken in this order — `write` → `disk` → `live` —
//! and never the other way round:
//! - `write` serialises every change (commands, pushes, rescans, sign-ins,
//!   the watcher's batches), so each sees the effects of the one before.
//!   Holding it *is* a [`Txn`]; it is held across file I/O.
//! - `disk` (the [`DiskView`]) and `live` (the [`LiveView`]) guard memory
//!   only and are never held across file I/O: a `Txn` reads or writes the
//!   file first, then takes them for the in-memory update. So `verify`
//!   (a read lock on `live`) never waits on a disk, and `status` reads a
//!   copy of the counts that each `Txn` refreshes when it ends.
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

pub use barrier::PushBarrier;
pub use retry::{run as run_retries, Retry, RetryQueue};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use mobile_session_proto::{Event, EventKind, PushReport};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::locks::{lock, read, write};
use crate::model::event::{change_event, diff_event};
use crate::model::names::SessionKey;
use crate::model::session::SessionRecord;
use crate::model::view::{self, DiskView, LiveView};
use crate::store::scan::{self, EntryRead};
use crate::store::{FileVersion, SessionStore, StoreError, WriteMode};

/// Events buffered per `watch` client before it is told it lagged.
pub const EVENT_BUFFER: usize = 1024;

/// How often a checked rewrite re-reads and re-applies its change when the
/// file keeps changing under it, before giving up with `Changed`.
pub const REWRITE_ATTEMPTS: usize = 8;

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

pub struct Core {
    store: SessionStore,
    config: RwLock<Arc<Config>>,
    // Lock order: write → disk → live (see the module docs).
    write: Mutex<()>,
    disk: Mutex<DiskView>,
    live: RwLock<LiveView>,
    events: broadcast::Sender<Event>,
    barrier: RwLock<Option<Arc<dyn PushBarrier>>>,
    retries: Mutex<RetryQueue>,
    counts: Mutex<Counts>,
    watcher_state: Mutex<String>,
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
            stats: Stats::default(),
        };
        let leftovers = core.store.remove_write_temps();
        if leftovers > 0 {
            tracing::info!("removed {leftovers} temporary files left by interrupted writes");
        }
        {
            let mut txn = core.txn();
            txn.rescan(false)?;
            txn.push();
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
        Txn {
            core: self,
            _write: lock(&self.write),
        }
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
        Ok(txn.push())
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

/// A change in progress: holding one is holding the write lock. Every file
/// write and delete goes through it, and it updates the disk view (and emits
/// the `watch` event) right after, so no caller can forget to. When it ends
/// the counts `status` shows are refreshed.
pub struct Txn<'a> {
    core: &'a Core,
    _write: MutexGuard<'a, ()>,
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        self.core.update_counts();
    }
}

impl Txn<'_> {
    pub fn store(&self) -> &SessionStore {
        &self.core.store
    }

    pub fn config(&self) -> Arc<Config> {
        self.core.config()
    }

    /// Reads both views. In memory only: `f` must not do I/O.
    pub fn views<R>(&self, f: impl FnOnce(&DiskView, &LiveView) -> R) -> R {
        self.core.read_views(f)
    }

    /// Reads one session file as it is now.
    pub fn read(&self, folder: &str, name: &str) -> Result<FileVersion, StoreError> {
        self.core.store.read(folder, name)
    }

    /// Writes a session file (see [`WriteMode`]), then re-reads it into the
    /// disk view.
    pub fn write(
        &mut self,
        folder: &str,
        name: &str,
        bytes: &[u8],
        mode: WriteMode<'_>,
    ) -> Result<(), StoreError> {
        let written = self.core.store.write(folder, name, bytes, mode);
        if written.is_ok() {
            self.refresh_file(folder, name);
        }
        written
    }

    /// A checked read-modify-write of one session file: `edit` gets the file
    /// as read and returns its new bytes, or `None` to leave it as it is.
    /// If the file changes between the read and the rename, it is read
    /// again and `edit` runs again (up to [`REWRITE_ATTEMPTS`] times, then
    /// `StoreError::Changed`). Returns whether the file was written.
    pub fn rewrite<E: From<StoreError>>(
        &mut self,
        folder: &str,
        name: &str,
        mut edit: impl FnMut(&FileVersion) -> Result<Option<Vec<u8>>, E>,
    ) -> Result<bool, E> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let file = self.core.store.read_for_rewrite(folder, name)?;
            let Some(new) = edit(&file)? else {
                return Ok(false);
            };
            let written =
                self.core
                    .store
                    .write(folder, name, &new, WriteMode::ReplaceIfUnchanged(&file));
            // Let a writer waiting on the lease through, then read back what
            // is there: ours, or another writer's version to apply on top of.
            drop(file);
            self.refresh_file(folder, name);
            match written {
                Ok(()) => return Ok(true),
                Err(StoreError::Changed { .. }) if attempt < REWRITE_ATTEMPTS => {
                    tracing::debug!(app = %folder, id = %name, attempt, "file changed during a rewrite; applying the change again");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes a session file, then drops it from the disk view.
    pub fn delete(&mut self, folder: &str, name: &str) -> Result<(), StoreError> {
        let deleted = self.core.store.delete(folder, name);
        self.refresh_file(folder, name);
        deleted
    }

    /// Creates an app folder (registered in the disk view); true if new.
    pub fn ensure_folder(&mut self, folder: &str) -> Result<bool, StoreError> {
        let created = self.core.store.ensure_folder(folder)?;
        lock(&self.core.disk).app_mut(folder);
        Ok(created)
    }

    /// Removes an app folder if it is empty, and from the disk view if so.
    pub fn remove_folder_if_empty(&mut self, folder: &str) -> Result<(), StoreError> {
        if self.core.store.remove_folder_if_empty(folder)? {
            self.forget_folder(folder);
        }
        Ok(())
    }

    /// Re-reads one file into the disk view (after our own write, or when
    /// the watcher reports it). A transient error keeps the last reading
    /// and schedules another read.
    pub fn refresh_file(&mut self, folder: &str, name: &str) {
        let key = SessionKey::new(folder, name);
        // Two files whose names differ only in case: the name that sorts
        // first stands for the session while it exists (as at a scan).
        let rival = lock(&self.core.disk)
            .get(&key)
            .filter(|e| *e.name != *name)
            .map(|e| e.name.to_string());
        if let Some(rival) = rival {
            if rival.as_str() < name && self.core.store.exists(folder, &rival) {
                tracing::debug!(app = %folder, file = %name, "ignored: {rival} stands for this session");
                let exists = self.core.store.exists(folder, name);
                lock(&self.core.retries).forget_file(folder, name);
                let mut disk = lock(&self.core.disk);
                let shadowed = &mut disk.app_mut(folder).meta.shadowed;
                if exists {
                    shadowed.insert(name.to_string());
                } else {
                    shadowed.remove(name);
                }
                return;
            }
        }
        let read = scan::read_entry(&self.core.store, folder, name);
        let mut heir = None;
        let (before, after) = match read {
            EntryRead::FolderUnreadable(e) => {
                // Nothing is known of the file: its folder cannot be opened.
                return self.folder_unreadable(folder, &e);
            }
            EntryRead::Transient(e) => {
                self.core.stats.read_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(app = %folder, id = %name, "cannot read the session file for now ({e}); keeping what was last read, retrying");
                lock(&self.core.retries)
                    .schedule(Retry::File(folder.into(), name.into()), Instant::now());
                return;
            }
            EntryRead::Gone => {
                let mut disk = lock(&self.core.disk);
                // The entry may be another name's (one differing in case
                // that stands now): then it stays.
                let stood = disk.get(&key).is_some_and(|e| *e.name == *name);
                let before = if stood { disk.remove(&key) } else { None };
                if let Some(app) = disk.app_mut_if_known(folder) {
                    let shadowed = &mut app.meta.shadowed;
                    shadowed.remove(name);
                    // The file that stood for the session is gone: a name
                    // differing only in case, ignored until now, takes over.
                    if stood {
                        heir = shadowed
                            .iter()
                            .find(|n| n.eq_ignore_ascii_case(name))
                            .cloned();
                    }
                    if let Some(h) = &heir {
                        shadowed.remove(h);
                    }
                }
                (before, None)
            }
            EntryRead::Found(entry, label) => {
                let mut disk = lock(&self.core.disk);
                let before = disk.insert(folder, entry.clone());
                let app = disk.app_mut(folder);
                app.meta.shadowed.remove(name);
                if let Some(label) = label {
                    app.meta.offer_session_label(key.id(), label);
                }
                // Its folder opened: it is not unreadable (any more).
                app.meta.unreadable = false;
                (before, Some(entry))
            }
        };
        lock(&self.core.retries).forget_file(folder, name);
        let was_valid = before.as_ref().is_some_and(|e| e.state.is_ok());
        let is_valid = after.as_ref().is_some_and(|e| e.state.is_ok());
        if was_valid && !is_valid {
            self.relabel(folder);
        }
        if let Some(ev) = diff_event(folder, name, before.as_ref(), after.as_ref()) {
            self.core.emit(ev);
        }
        if let Some(heir) = heir {
            self.refresh_file(folder, &heir);
        }
    }

    /// Keeps an app's label taken from a valid session: when the session it
    /// came from is gone or invalid, the next valid one (by id) names the
    /// app — read outside the view lock.
    fn relabel(&mut self, folder: &str) {
        let next = {
            let mut disk = lock(&self.core.disk);
            let Some(app) = disk.apps().get(folder) else {
                return;
            };
            let valid = |id: &str| app.sessions.get(id).is_some_and(|e| e.state.is_ok());
            if app
                .meta
                .session_label
                .as_ref()
                .is_some_and(|(id, _)| valid(id))
            {
                return;
            }
            let next = app
                .sessions
                .iter()
                .find(|(_, e)| e.state.is_ok())
                .map(|(id, e)| (id.clone(), e.name.to_string()));
            disk.app_mut(folder).meta.session_label = None;
            next
        };
        let Some((id, name)) = next else { return };
        let label = self
            .core
            .store
            .read(folder, &name)
            .ok()
            .and_then(|f| crate::model::app::app_label(&f.bytes));
        if let Some(label) = label {
            lock(&self.core.disk)
                .app_mut(folder)
                .meta
                .offer_session_label(&id, label);
        }
    }

    /// Reads an app folder's `manifest.json` again (written or changed after
    /// the folder was read): the name the app is known by, nothing else.
    pub fn refresh_manifest(&mut self, folder: &str) {
        let manifest = self.manifest_label(folder);
        if let Some(app) = lock(&self.core.disk).app_mut_if_known(folder) {
            app.meta.manifest_label = manifest;
        }
    }

    /// The app label an app folder's `manifest.json` gives, read now.
    fn manifest_label(&self, folder: &str) -> Option<crate::model::app::AppLabel> {
        self.core
            .store
            .read_manifest(folder)
            .as_deref()
            .and_then(crate::model::app::app_label)
    }

    /// Re-reads one app folder: its files now, and the entries of files gone.
    /// A folder that cannot be listed keeps its entries and is marked
    /// unreadable; one that is gone is forgotten.
    pub fn sync_folder(&mut self, folder: &str) {
        let names = match self.core.store.session_names(folder) {
            Ok(n) => n,
            Err(e) if e.is_not_found() || matches!(e, StoreError::NotRegular { .. }) => {
                lock(&self.core.retries).forget(&Retry::Folder(folder.into()));
                return self.forget_folder(folder);
            }
            Err(e) => return self.folder_unreadable(folder, &e),
        };
        let manifest = self.manifest_label(folder);
        lock(&self.core.retries).forget(&Retry::Folder(folder.into()));
        let (known, was_unreadable) = {
            let mut disk = lock(&self.core.disk);
            let app = disk.app_mut(folder);
            app.meta.manifest_label = manifest;
            let mut known: Vec<String> =
                app.sessions.values().map(|e| e.name.to_string()).collect();
            // Read again too: each is shadowed still, or stands now.
            known.extend(std::mem::take(&mut app.meta.shadowed));
            (known, std::mem::replace(&mut app.meta.unreadable, false))
        };
        if was_unreadable {
            tracing::info!(app = %folder, "the app folder is readable again");
        }
        let listed: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        let gone = known.iter().filter(|k| !listed.contains(k.as_str()));
        for name in names.iter().chain(gone) {
            self.refresh_file(folder, name);
        }
    }

    /// An app folder that cannot be listed or opened: its entries are kept
    /// as last read (its live sessions stay live), `status` and `apps` say
    /// so, and a transient error is retried; a permanent one (permissions)
    /// waits for the watcher to see the folder change.
    fn folder_unreadable(&mut self, folder: &str, e: &StoreError) {
        let newly = {
            let mut disk = lock(&self.core.disk);
            let app = disk.app_mut(folder);
            !std::mem::replace(&mut app.meta.unreadable, true)
        };
        if newly {
            tracing::warn!(app = %folder, "cannot read the app folder ({e}); keeping its sessions as last read");
        }
        let mut retries = lock(&self.core.retries);
        if e.is_transient() {
            retries.schedule(Retry::Folder(folder.into()), Instant::now());
        } else {
            retries.forget(&Retry::Folder(folder.into()));
        }
    }

    /// Drops an app folder that is gone from the disk view.
    pub fn forget_folder(&mut self, folder: &str) {
        let removed = lock(&self.core.disk).remove_app(folder);
        if let Some(app) = removed {
            for e in app.sessions.values() {
                self.core.emit(change_event(folder, &e.name, Some(e), None));
            }
        }
    }

    /// Re-reads every file into the disk view (`refresh`, `push --full`, a
    /// watcher overflow; `counted` ones show in `status`). The view is
    /// updated in place: a file whose content did not change keeps its
    /// entry untouched (nothing allocated, nothing marked for the next
    /// push), so repeated full pushes leave memory where it was. Folders
    /// that cannot be listed and files that hit a transient error keep
    /// their last reading.
    pub fn rescan(&mut self, counted: bool) -> Result<(), StoreError> {
        let t = Instant::now();
        let disk = &self.core.disk;
        let known = |folder: &str, id: &str, name: &str, hash: u64| {
            let view = lock(disk);
            view.app(folder)
                .and_then(|a| a.sessions.get(id))
                .is_some_and(|e| *e.name == *name && matches!(&e.state, Ok(r) if r.hash == hash))
        };
        let scanned = scan::scan(&self.core.store, &known)?;
        let read_took = t.elapsed();
        let now = Instant::now();
        let watched = self.core.events.receiver_count() > 0;
        let mut retries = Vec::new();
        let mut transient = Vec::new();
        let mut unreadable = Vec::new();
        // Folders where something changed: their label is checked after.
        let mut touched = Vec::new();
        {
            let mut disk = lock(&self.core.disk);
            let listed: std::collections::HashSet<&str> =
                scanned.iter().map(|f| f.folder.as_str()).collect();
            let gone: Vec<String> = disk
                .apps()
                .keys()
                .filter(|f| !listed.contains(f.as_str()))
                .cloned()
                .collect();
            for folder in gone {
                if let Some(app) = disk.remove_app(&folder) {
                    if watched {
                        for e in app.sessions.values() {
                            self.core
                                .emit(change_event(&folder, &e.name, Some(e), None));
                        }
                    }
                }
            }
            for f in scanned {
                let folder = f.folder;
                {
                    let app = disk.app_mut(&folder);
                    app.meta.manifest_label = f.manifest_label;
                    if f.entries.is_ok() {
                        app.meta.shadowed = f.shadowed.into_iter().collect();
                    }
                    if let Some((id, label)) = f.session_label {
                        app.meta.offer_session_label(&id, label);
                    }
                    app.meta.unreadable = f.entries.is_err();
                }
                let entries = match f.entries {
                    Ok(entries) => entries,
                    Err(e) => {
                        unreadable.push((folder, e));
                        continue;
                    }
                };
                let seen: std::collections::HashSet<&str> =
                    entries.iter().map(|(id, _)| id.as_str()).collect();
                let vanished: Vec<String> = disk
                    .app(&folder)
                    .map(|a| {
                        a.sessions
                            .keys()
                            .filter(|id| !seen.contains(id.as_str()))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                drop(seen);
                let mut changed = !vanished.is_empty();
                for (id, found) in entries {
                    match found {
                        scan::Scanned::Same => {}
                        scan::Scanned::Read(entry) => {
                            changed = true;
                            let key = SessionKey::new(&folder, &id);
                            if watched {
                                let ev =
                                    diff_event(&folder, &entry.name, disk.get(&key), Some(&entry));
                                if let Some(ev) = ev {
                                    self.core.emit(ev);
                                }
                            }
                            disk.insert(&folder, entry);
                        }
                        scan::Scanned::Transient { name, error } => {
                            transient.push((folder.clone(), name, error));
                        }
                    }
                }
                if changed {
                    touched.push(folder.clone());
                }
                for id in vanished {
                    if let Some(before) = disk.remove(&SessionKey::new(&folder, &id)) {
                        if watched {
                            self.core.emit(change_event(
                                &folder,
                                &before.name,
                                Some(&before),
                                None,
                            ));
                        }
                    }
                }
            }
        }
        for folder in touched {
            self.relabel(&folder);
        }
        for (folder, e) in unreadable {
            tracing::warn!(app = %folder, "cannot read the app folder ({e}); keeping its sessions as last read");
            if e.is_transient() {
                retries.push(Retry::Folder(folder));
            }
        }
        // Said and counted outside the view lock.
        for (folder, name, error) in transient {
            tracing::warn!(app = %folder, id = %name, "cannot read the session file for now ({error}); keeping what was last read, retrying");
            self.core.stats.read_errors.fetch_add(1, Ordering::Relaxed);
            retries.push(Retry::File(folder, name));
        }
        let mut queue = lock(&self.core.retries);
        // Everything else was read fine: its retries are done with.
        queue.keep_only(&retries);
        for r in retries {
            queue.schedule(r, now);
        }
        drop(queue);
        // The scan's buffers (a read buffer, a key and a name per file) are
        // freed by now; hand that memory back rather than keep it for the next.
        release_freed_memory();
        tracing::debug!(read = ?read_took, total = ?t.elapsed(), "rescan done");
        if counted {
            let n = self.core.stats.rescans.fetch_add(1, Ordering::Relaxed) + 1;
            let mut ev = Event::new(EventKind::Rescan);
            ev.count = Some(lock(&self.core.disk).valid_count());
            ev.message = Some(format!("rescan #{n}"));
            self.core.emit(ev);
        }
        Ok(())
    }

    /// Applies the disk view to the live view (`MOBILE APP REFRESH
    /// SESSIONS`). The caller has brought the disk view up to date.
    pub fn push(&mut self) -> PushReport {
        let t = Instant::now();
        let report = {
            let mut disk = lock(&self.core.disk);
            let mut live = write(&self.core.live);
            view::push_incremental(self.core.store.root(), &mut disk, &mut live)
        };
        tracing::debug!(took = ?t.elapsed(), "push applied");
        if report.added + report.updated + report.removed > 10_000 {
            // A big push freed the set of changed keys it worked through.
            release_freed_memory();
        }
        for f in &report.invalid {
            tracing::warn!(path = %f.path, code = f.code, "invalid session file: {}", f.error);
        }
        tracing::info!(
            added = report.added,
            updated = report.updated,
            removed = report.removed,
            unchanged = report.unchanged,
            invalid = report.invalid.len(),
            "pushed"
        );
        let mut ev = Event::new(EventKind::Pushed);
        ev.push = Some(report.clone());
        self.core.emit(ev);
        report
    }

    /// Makes one session's file live at once (a sign-in), without a push.
    /// An unpushed edit of an existing session stays out of the live view:
    /// the live copy is replaced only if it matched `previous_disk`, the
    /// disk entry the caller started from.
    pub fn make_live(
        &mut self,
        folder: &str,
        name: &str,
        previous_disk: Option<&Arc<SessionRecord>>,
    ) {
        let key = SessionKey::new(folder, name);
        let disk = lock(&self.core.disk);
        let Some(Ok(rec)) = disk.get(&key).map(|e| e.state.clone()) else {
            return;
        };
        let mut live = write(&self.core.live);
        let replace = match live.get_key(&key) {
            None => true,
            Some(l) => previous_disk.is_some_and(|p| p.same_content(l)),
        };
        if replace {
            live.insert(key, rec);
        }
    }

    /// Drops one session from the live view at once (a logout), without a push.
    pub fn drop_live(&mut self, folder: &str, name: &str) -> bool {
        let key = SessionKey::new(folder, name);
        // `live` alone, as `verify` reads it: no other lock is held here.
        let mut live = write(&self.core.live);
        live.remove(&key).is_some()
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
            .get(&SessionKey::new(folder, name))
            .cloned()
    }
}

#[cfg(test)]
mod tests;
