//! [`State`]: the disk view, the live view and every operation on them.
//!
//! Locking: `write` serializes everything that changes a file or a view
//! (commands, pushes, rescans, sign-ins), so each sees the effects of the
//! one before. `disk` and `live` are only held for in-memory work, never
//! across file I/O, so readers (`verify` above all) never wait on a disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use mobile_session_proto::{
    AppRow, AuthReply, ChangedSession, DaemonStatus, ErrorCode, Event, EventKind, PushReport,
    SessionFilter, SessionRow, Status, VerifyReply, VerifyStatus,
};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::error::CmdError;
use crate::resolve::{self, Target};
use crate::session::{self, SessionRecord};
use crate::store::{SessionStore, StoreError};
use crate::view::{self, DiskEntry, DiskView, LiveView};

/// Events buffered per `watch` client before it is told it lagged.
pub const EVENT_BUFFER: usize = 1024;

pub struct State {
    pub store: SessionStore,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub config: Config,
    pub started: Instant,
    disk: Mutex<DiskView>,
    live: RwLock<LiveView>,
    write: Mutex<()>,
    events: broadcast::Sender<Event>,
    pub rescans: AtomicU64,
    pub connections: AtomicU64,
    watcher: Mutex<String>,
    watch_sync: Mutex<Option<Arc<crate::watcher::WatchSync>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take every later request down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    /// Scans the folder and pushes: the live view starts as the valid files.
    pub fn open(
        store: SessionStore,
        data_dir: PathBuf,
        socket: PathBuf,
        config: Config,
    ) -> Result<Self, StoreError> {
        let mut disk = read_all(&store)?;
        let mut live = LiveView::default();
        view::push_incremental(store.root(), &mut disk, &mut live);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Self {
            store,
            data_dir,
            socket,
            config,
            started: Instant::now(),
            disk: Mutex::new(disk),
            live: RwLock::new(live),
            write: Mutex::new(()),
            events,
            rescans: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            watcher: Mutex::new("off".to_string()),
            watch_sync: Mutex::new(None),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn emit(&self, event: Event) {
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    pub fn set_watcher_state(&self, s: impl Into<String>) {
        *lock(&self.watcher) = s.into();
    }

    /// Set while an ordered (inotify) watcher keeps the disk view current.
    pub fn set_watch_sync(&self, sync: Option<Arc<crate::watcher::WatchSync>>) {
        *lock(&self.watch_sync) = sync;
    }

    fn live(&self) -> RwLockReadGuard<'_, LiveView> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write_lock(&self) -> MutexGuard<'_, ()> {
        lock(&self.write)
    }

    /// Re-reads every file into the disk view (`refresh`, watcher overflow).
    /// The caller holds the write lock.
    pub fn rescan_locked(&self) -> Result<(), StoreError> {
        let t = Instant::now();
        let fresh = read_all(&self.store)?;
        let read = t.elapsed();
        let old = std::mem::replace(&mut *lock(&self.disk), fresh);
        tracing::debug!(?read, "rescan read the folder");
        if self.events.receiver_count() == 0 {
            // Nobody watches: no need to compare the two views. Freeing
            // 100 000 entries takes a while; not on the caller's time.
            std::thread::spawn(move || {
                drop(old);
                release_freed_memory();
            });
            return Ok(());
        }
        let disk = lock(&self.disk);
        for (folder, e) in old.entries() {
            if disk.get(folder, &e.name.to_ascii_lowercase()).is_none() {
                self.emit(change_event(folder, &e.name, Some(e), None));
            }
        }
        for (folder, e) in disk.entries() {
            let before = old.get(folder, &e.name.to_ascii_lowercase());
            if let Some(ev) = diff_event(folder, &e.name, before, Some(e)) {
                self.emit(ev);
            }
        }
        drop(disk);
        drop(old);
        release_freed_memory();
        tracing::debug!(total = ?t.elapsed(), "rescan done");
        Ok(())
    }

    /// Full rescan, counted as such (`refresh`, watcher overflow).
    pub fn rescan(&self) -> Result<(), StoreError> {
        let _w = self.write_lock();
        self.rescan_counted_locked()
    }

    /// A counted rescan under the write lock the caller holds.
    pub fn rescan_counted_locked(&self) -> Result<(), StoreError> {
        self.rescan_locked()?;
        let n = self.rescans.fetch_add(1, Ordering::Relaxed) + 1;
        let mut ev = Event::new(EventKind::Rescan);
        ev.count = Some(lock(&self.disk).valid_count());
        ev.message = Some(format!("rescan #{n}"));
        self.emit(ev);
        Ok(())
    }

    /// Re-reads one file into the disk view (after our own write, or when
    /// the watcher reports it). The caller holds the write lock.
    pub fn refresh_file_locked(&self, folder: &str, name: &str) {
        let entry = read_entry(&self.store, folder, name);
        let key = name.to_ascii_lowercase();
        let mut disk = lock(&self.disk);
        let before = disk.get(folder, &key).cloned();
        match &entry {
            Some(e) => disk.insert(folder, e.clone()),
            None => {
                disk.remove(folder, &key);
            }
        }
        drop(disk);
        if let Some(ev) = diff_event(folder, name, before.as_ref(), entry.as_ref()) {
            self.emit(ev);
        }
    }

    /// Applies the disk view to the live view (`MOBILE APP REFRESH SESSIONS`).
    /// The caller holds the write lock and has brought the disk view up to date.
    pub fn push_locked(&self) -> PushReport {
        let t = Instant::now();
        let report = {
            let mut disk = lock(&self.disk);
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            view::push_incremental(self.store.root(), &mut disk, &mut live)
        };
        tracing::debug!(took = ?t.elapsed(), "push applied");
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
        self.emit(ev);
        report
    }

    /// `push` from a client or SIGHUP. With an ordered watcher the disk view
    /// is first brought up to date through it, so the cost follows what
    /// changed; `full` (or no such watcher) re-reads every file instead.
    pub fn push_request(&self, full: bool) -> Result<PushReport, CmdError> {
        let sync = lock(&self.watch_sync).clone();
        let synced = !full && sync.is_some_and(|s| s.sync());
        let _w = self.write_lock();
        if !synced {
            if !full {
                tracing::debug!("push: no ordered watcher answered; rescanning");
            }
            self.rescan_locked()?;
        }
        Ok(self.push_locked())
    }

    /// Re-reads one app folder: its files now, and entries of files gone.
    pub fn sync_folder_locked(&self, folder: &str) {
        let names = match self.store.session_names(folder) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("cannot list {folder}: {e}");
                return self.forget_folder_locked(folder);
            }
        };
        self.note_folder_locked(folder);
        let known: Vec<String> = lock(&self.disk)
            .apps()
            .get(folder)
            .map(|a| a.sessions.values().map(|e| e.name.to_string()).collect())
            .unwrap_or_default();
        for name in names
            .iter()
            .chain(known.iter().filter(|k| !names.contains(k)))
        {
            self.refresh_file_locked(folder, name);
        }
    }

    fn resolve_all(&self, args: &[String]) -> Result<Vec<Target>, CmdError> {
        if args.is_empty() {
            return Err(CmdError::bad_request("no SESSION given"));
        }
        let disk = lock(&self.disk);
        let live = self.live();
        let mut out: Vec<Target> = Vec::with_capacity(args.len());
        for a in args {
            let t = resolve::resolve_session(&self.store, &disk, &live, a)?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    pub fn resolve_one(&self, arg: &str) -> Result<Target, CmdError> {
        let disk = lock(&self.disk);
        let live = self.live();
        resolve::resolve_session(&self.store, &disk, &live, arg)
    }

    pub fn path_of(&self, t: &Target) -> PathBuf {
        self.store.session_path(&t.folder, &t.name)
    }

    fn changed_session(&self, t: &Target, status: Option<Status>, changed: bool) -> ChangedSession {
        ChangedSession {
            app: t.folder.clone(),
            id: t.name.clone(),
            path: self.path_of(t).display().to_string(),
            status,
            changed,
        }
    }

    /// Reads a session file's current bytes.
    pub fn read(&self, t: &Target) -> Result<Vec<u8>, CmdError> {
        self.store.read(&t.folder, &t.name).map_err(|e| {
            if e.is_not_found() {
                CmdError::not_found(format!(
                    "{} was deleted (the session stays live until the next push)",
                    self.path_of(t).display()
                ))
            } else {
                e.into()
            }
        })
    }

    /// `set-status`: rewrites each file with only `status` changed. Every
    /// argument is resolved and every file validated before any is written.
    pub fn set_status(
        &self,
        args: &[String],
        status: Status,
        push: bool,
    ) -> Result<(Vec<ChangedSession>, Option<PushReport>), CmdError> {
        let changed = self.set_status_files(args, status)?;
        Ok((changed, self.push_if(push)?))
    }

    fn set_status_files(
        &self,
        args: &[String],
        status: Status,
    ) -> Result<Vec<ChangedSession>, CmdError> {
        let _w = self.write_lock();
        let targets = self.resolve_all(args)?;
        let mut plans = Vec::with_capacity(targets.len());
        for t in targets {
            let bytes = self.read(&t)?;
            let rec = session::validate(&t.folder, &t.name, &bytes).map_err(|inv| {
                CmdError::new(
                    ErrorCode::InvalidFile,
                    format!(
                        "{} is invalid (code {}: {}); it is left untouched — fix or delete it first",
                        self.path_of(&t).display(),
                        inv.code,
                        inv.error
                    ),
                )
            })?;
            let new = if rec.status == status {
                None
            } else {
                Some(session::with_status(&bytes, status).ok_or_else(|| {
                    CmdError::internal(format!(
                        "cannot locate \"status\" in {}",
                        self.path_of(&t).display()
                    ))
                })?)
            };
            plans.push((t, new));
        }
        let mut out = Vec::with_capacity(plans.len());
        for (t, new) in plans {
            let changed = new.is_some();
            if let Some(bytes) = new {
                self.store.write_atomic(&t.folder, &t.name, &bytes, false)?;
                tracing::info!(app = %t.folder, id = %t.name, %status, "status changed");
            }
            self.refresh_file_locked(&t.folder, &t.name);
            out.push(self.changed_session(&t, Some(status), changed));
        }
        Ok(out)
    }

    /// `delete`: removes each session file.
    pub fn delete(
        &self,
        args: &[String],
        push: bool,
    ) -> Result<(Vec<ChangedSession>, Option<PushReport>), CmdError> {
        let deleted = self.delete_files(args)?;
        Ok((deleted, self.push_if(push)?))
    }

    fn delete_files(&self, args: &[String]) -> Result<Vec<ChangedSession>, CmdError> {
        let _w = self.write_lock();
        let targets = self.resolve_all(args)?;
        let mut out = Vec::with_capacity(targets.len());
        for t in &targets {
            let changed = match self.store.delete(&t.folder, &t.name) {
                Ok(()) => true,
                // Already gone (a live session whose file was deleted): nothing to do.
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e.into()),
            };
            if changed {
                tracing::info!(app = %t.folder, id = %t.name, "session file deleted");
            }
            self.refresh_file_locked(&t.folder, &t.name);
            out.push(self.changed_session(t, None, changed));
        }
        Ok(out)
    }

    /// `--push` after a command: a whole push, once the write lock is free
    /// (the watcher needs it to catch up).
    fn push_if(&self, push: bool) -> Result<Option<PushReport>, CmdError> {
        push.then(|| self.push_request(false)).transpose()
    }

    /// `verify`: O(1) from the live view; anything unrecognised is `unknown`.
    pub fn verify(&self, token: &str) -> VerifyReply {
        crate::token::with_claims(token, |c| {
            let folder = c.folder();
            let live = self.live();
            match live.get(&folder, &c.id) {
                Some(rec) => VerifyReply {
                    status: match rec.status {
                        Status::Accepted => VerifyStatus::Accepted,
                        Status::Pending => VerifyStatus::Pending,
                    },
                    id: Some(rec.id.to_string()),
                    app: Some(folder),
                },
                None => VerifyReply::unknown(),
            }
        })
        .unwrap_or_else(VerifyReply::unknown)
    }

    pub fn apps(&self) -> Vec<AppRow> {
        let disk = lock(&self.disk);
        disk.apps()
            .iter()
            .map(|(folder, app)| {
                let (app_id, name, team_id) = resolve::app_meta(&self.store, &disk, folder);
                let (sessions, pending) = view::app_counts(app);
                AppRow {
                    folder: folder.clone(),
                    app_id: app_id.unwrap_or_else(|| folder.clone()),
                    name,
                    team_id,
                    sessions,
                    pending,
                    unreadable: false,
                }
            })
            .collect()
    }

    /// Registers an app folder the scan found with no session yet.
    pub fn note_folder_locked(&self, folder: &str) {
        lock(&self.disk).ensure_app(folder);
    }

    pub fn forget_folder_locked(&self, folder: &str) {
        let removed = lock(&self.disk).remove_app(folder);
        if let Some(app) = removed {
            for e in app.sessions.values() {
                self.emit(change_event(folder, &e.name, Some(e), None));
            }
        }
    }

    pub fn sessions(
        &self,
        filter: &SessionFilter,
        redact: bool,
    ) -> Result<Vec<SessionRow>, CmdError> {
        let disk = lock(&self.disk);
        let live = self.live();
        let app = match &filter.app {
            Some(a) => Some(resolve::resolve_app(&self.store, &disk, &live, a)?),
            None => None,
        };
        let rows = view::session_rows(&disk, &live);
        drop(live);
        drop(disk);
        let root = self.store.root();
        Ok(rows
            .into_iter()
            .filter(|r| app.as_deref().is_none_or(|a| a == r.folder))
            .filter(|r| filter.status.is_none_or(|s| s == r.record.status))
            .filter(|r| matches_doc(&r.record, filter))
            .map(|r| r.to_row(root, redact))
            .collect())
    }

    pub fn status(&self) -> DaemonStatus {
        let disk = lock(&self.disk);
        let live = self.live();
        DaemonStatus {
            version: mobile_session_proto::VERSION.to_string(),
            protocol: mobile_session_proto::PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            data_dir: self.data_dir.display().to_string(),
            socket: self.socket.display().to_string(),
            live: live.len() as u64,
            on_disk: disk.valid_count(),
            unpushed: view::unpushed_count(&disk, &live),
            invalid: disk.invalid_count(),
            watcher: lock(&self.watcher).clone(),
            rescans: self.rescans.load(Ordering::Relaxed),
            auto_push: self.config.auto_push,
            connections: self.connections.load(Ordering::Relaxed),
            watchers: self.events.receiver_count() as u64,
            max_connections: 0,
            read_errors: 0,
            unreadable_folders: Vec::new(),
        }
    }

    /// Counts for the service manager's STATUS= line.
    pub fn summary(&self) -> String {
        let s = self.status();
        format!(
            "{} live, {} on disk, {} unpushed, {} invalid",
            s.live, s.on_disk, s.unpushed, s.invalid
        )
    }

    /// `authenticate`: signs a device in (design §4).
    pub fn authenticate(&self, body: &str) -> Result<AuthReply, CmdError> {
        crate::auth::authenticate(self, body)
    }

    // Accessors for the sign-in module, which works under the write lock.
    pub(crate) fn disk_device(
        &self,
        folder: &str,
        device_id: &str,
    ) -> Option<(String, Arc<SessionRecord>)> {
        let disk = lock(&self.disk);
        let (name, rec) = disk.apps().get(folder)?.find_device(device_id)?;
        Some((name.to_string(), rec.clone()))
    }

    pub(crate) fn live_record(&self, folder: &str, id: &str) -> Option<Arc<SessionRecord>> {
        self.live().get(folder, id).cloned()
    }

    /// Makes a freshly written session live (sign-in), keeping an unpushed
    /// edit of an existing one out of the live view.
    pub(crate) fn make_live_locked(
        &self,
        folder: &str,
        name: &str,
        previous_disk: Option<&Arc<SessionRecord>>,
    ) {
        let key = name.to_ascii_lowercase();
        let Some(Ok(rec)) = lock(&self.disk).get(folder, &key).map(|e| e.state.clone()) else {
            return;
        };
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        let replace = match live.get(folder, name) {
            None => true,
            Some(l) => previous_disk.is_some_and(|p| p.same_content(l)),
        };
        if replace {
            live.sessions.insert(view::live_key(folder, name), rec);
        }
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }
}

/// Hands memory freed by a dropped view back to the OS: glibc keeps freed
/// blocks otherwise, and the RSS would carry a second view's worth.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn matches_doc(rec: &SessionRecord, filter: &SessionFilter) -> bool {
    if let Some(want) = &filter.email {
        if !rec
            .email
            .as_deref()
            .unwrap_or("")
            .eq_ignore_ascii_case(want.trim())
        {
            return false;
        }
    }
    if let Some(want) = &filter.device_token {
        let device: serde_json::Value = serde_json::from_str(&rec.device).unwrap_or_default();
        if device.get("token").and_then(|t| t.as_str()) != Some(want.trim()) {
            return false;
        }
    }
    true
}

/// Reads and validates one file; `None` when it no longer exists.
pub fn read_entry(store: &SessionStore, folder: &str, name: &str) -> Option<DiskEntry> {
    entry_of(folder, name, store.read(folder, name))
}

fn entry_of(folder: &str, name: &str, read: Result<Vec<u8>, StoreError>) -> Option<DiskEntry> {
    let state = match read {
        Ok(bytes) => session::validate(folder, name, &bytes).map(Arc::new),
        Err(e) if e.is_not_found() => return None,
        Err(e) => Err(session::Invalid {
            code: 2,
            error: format!("cannot be read: {e}"),
        }),
    };
    Some(DiskEntry {
        name: name.into(),
        state,
    })
}

/// The entries read from part of one folder (by index in the scan).
type FolderSlice = (usize, Vec<(String, DiskEntry)>);

/// Reads every session file, on all cores. Each worker takes a slice of one
/// folder, opens the folder once and reads its files relative to it.
pub fn read_all(store: &SessionStore) -> Result<DiskView, StoreError> {
    const SLICE: usize = 512;
    let folders = store.scan()?;
    let work: Vec<(usize, &[String])> = folders
        .iter()
        .enumerate()
        .flat_map(|(i, (_, names))| names.chunks(SLICE).map(move |c| (i, c)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let parts: Vec<Vec<FolderSlice>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(work.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(f, names)) = work.get(i) else {
                            break;
                        };
                        let folder = &folders[f].0;
                        let Ok(dir) = store.open_folder(folder) else {
                            continue;
                        };
                        let entries = names
                            .iter()
                            .filter_map(|n| {
                                read_entry_in(store, &dir, folder, n)
                                    .map(|e| (n.to_ascii_lowercase(), e))
                            })
                            .collect();
                        out.push((f, entries));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut per_folder: Vec<Vec<(String, DiskEntry)>> =
        folders.iter().map(|_| Vec::new()).collect();
    for (f, entries) in parts.into_iter().flatten() {
        per_folder[f].extend(entries);
    }
    let apps = folders
        .into_iter()
        .zip(per_folder)
        .map(|((folder, _), entries)| {
            (
                folder,
                view::AppView {
                    sessions: entries.into_iter().collect(),
                },
            )
        })
        .collect();
    Ok(DiskView::from_apps(apps))
}

fn read_entry_in(
    store: &SessionStore,
    dir: &std::os::fd::OwnedFd,
    folder: &str,
    name: &str,
) -> Option<DiskEntry> {
    entry_of(folder, name, store.read_in(dir, folder, name))
}

fn change_event(
    folder: &str,
    name: &str,
    before: Option<&DiskEntry>,
    after: Option<&DiskEntry>,
) -> Event {
    let kind = match (before, after) {
        (None, _) => EventKind::Created,
        (Some(_), None) => EventKind::Deleted,
        (Some(_), Some(_)) => EventKind::Changed,
    };
    let mut ev = Event::new(kind);
    ev.app = Some(folder.to_string());
    ev.id = Some(name.to_string());
    ev
}

/// The event (if any) that one file's change produces for `watch`.
pub fn diff_event(
    folder: &str,
    name: &str,
    before: Option<&DiskEntry>,
    after: Option<&DiskEntry>,
) -> Option<Event> {
    let same = match (before, after) {
        (None, None) => true,
        (Some(b), Some(a)) => match (&b.state, &a.state) {
            (Ok(x), Ok(y)) => x.same_content(y),
            (Err(x), Err(y)) => x == y,
            _ => false,
        },
        _ => false,
    };
    if same {
        return None;
    }
    let mut ev = change_event(folder, name, before, after);
    match after.map(|a| &a.state) {
        Some(Err(inv)) => {
            ev.kind = EventKind::Invalid;
            ev.code = Some(inv.code);
            ev.message = Some(inv.error.clone());
        }
        Some(Ok(rec)) => {
            ev.status = Some(rec.status);
            if let Some(Ok(old)) = before.map(|b| &b.state) {
                if old.status != rec.status {
                    ev.kind = EventKind::StatusChanged;
                }
            }
        }
        None => {}
    }
    Some(ev)
}
