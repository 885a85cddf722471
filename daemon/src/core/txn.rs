//! [`Txn`]: a change in progress. Every file write and delete goes through
//! it, and it updates the disk view (and emits the `watch` event) right
//! after, so no caller can forget to.

use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use mobile_session_proto::{Event, EventKind, PushReport};

use super::{release_freed_memory, Core};
use crate::config::Config;
use crate::locks::{lock, write};
use crate::model::names::SessionKey;
use crate::model::reconcile::{Effects, FileRead, Sink};
use crate::model::session::SessionRecord;
use crate::model::view::{self, DiskView, LiveView};
use crate::store::{FileVersion, SessionStore, StoreError, WriteMode};

/// How often a checked rewrite re-reads and re-applies its change when the
/// file keeps changing under it, before giving up with `Changed`.
pub const REWRITE_ATTEMPTS: usize = 8;

/// A change in progress: holding one is holding the write lock. When it
/// ends the counts `status` shows are refreshed.
pub struct Txn<'a> {
    pub(super) core: &'a Core,
    _write: MutexGuard<'a, ()>,
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        self.core.update_counts();
    }
}

impl<'a> Txn<'a> {
    /// Waits for the write lock.
    pub(super) fn begin(core: &'a Core) -> Self {
        Txn {
            core,
            _write: lock(&core.write),
        }
    }

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

    /// Writes a session file (see [`WriteMode`]); the disk view takes the
    /// bytes written.
    pub fn write(
        &mut self,
        folder: &str,
        name: &str,
        bytes: &[u8],
        mode: WriteMode<'_>,
    ) -> Result<(), StoreError> {
        self.core.store.write(folder, name, bytes, mode)?;
        self.note_written(folder, name, bytes);
        Ok(())
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
            // Let a writer waiting on the lease through.
            drop(file);
            match written {
                Ok(()) => {
                    self.note_written(folder, name, &new);
                    return Ok(true);
                }
                Err(e) => {
                    // Another writer's version: to apply the change on top of.
                    self.refresh_file(folder, name);
                    match e {
                        StoreError::Changed { .. } if attempt < REWRITE_ATTEMPTS => {
                            tracing::debug!(app = %folder, id = %name, attempt, "file changed during a rewrite; applying the change again");
                        }
                        e => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Deletes a session file, then drops it from the disk view.
    pub fn delete(&mut self, folder: &str, name: &str) -> Result<(), StoreError> {
        match self.core.store.delete(folder, name) {
            Ok(()) => {
                self.reconcile_file(folder, name, |_| FileRead::Gone);
                Ok(())
            }
            Err(e) => {
                self.refresh_file(folder, name);
                Err(e)
            }
        }
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

    /// Applies the disk view to the live view (`MOBILE APP REFRESH
    /// SESSIONS`). The caller has brought the disk view up to date.
    pub fn push(&mut self) -> PushReport {
        self.push_after(0)
    }

    /// [`Self::push`] after `live` sessions were made live as the first
    /// scan read them (counted as added, not unchanged).
    pub(super) fn push_after(&mut self, live: u64) -> PushReport {
        let t = Instant::now();
        let mut report = {
            let mut disk = lock(&self.core.disk);
            let mut live = write(&self.core.live);
            view::push_incremental(self.core.store.root(), &mut disk, &mut live)
        };
        let live = live.min(report.unchanged);
        report.added += live;
        report.unchanged -= live;
        // Their last good reading was pushed: say so.
        report.writing = self.core.writing_files();
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
            writing = report.writing.len(),
            "pushed"
        );
        let mut ev = Event::new(EventKind::Pushed);
        ev.push = Some(report.clone());
        self.core.emit(ev);
        self.core.pushed(&report);
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

    /// What reconciling a read asks for; its events are built only while
    /// someone follows `watch`.
    pub(super) fn effects(&self) -> Effects<'a> {
        let watched = self.core.events.receiver_count() > 0;
        Effects::new(watched.then_some(self.core as &dyn Sink))
    }
}
