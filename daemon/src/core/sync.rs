//! Keeping the disk view in step with the files: the core reads (a file, a
//! folder's listing, every file), hands what it read to the rules of
//! [`crate::model::reconcile`] under the `disk` lock, then does what they
//! ask: log, count, schedule retries, read further files.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mobile_session_proto::{Event, EventKind};

use super::release_freed_memory;
use super::txn::Txn;
use crate::locks::{lock, read, write};
use crate::model::app::{app_label, AppLabel};
use crate::model::reconcile::{self, Effects, FileRead, FollowUp, Note, Retry};
use crate::model::view;
use crate::store::scan::{self, Probe};
use crate::store::StoreError;

impl Txn<'_> {
    /// Re-reads one file into the disk view (when the watcher reports it,
    /// or its retry is due), unless a writer has it open and it is not
    /// valid yet (`writing.rs`).
    pub fn refresh_file(&mut self, folder: &str, name: &str) {
        self.reconcile_file(folder, name, |txn| txn.read_watched(folder, name));
    }

    /// Puts bytes we have just written into the disk view, as a read of
    /// the file would: they are what is on disk.
    pub(super) fn note_written(&mut self, folder: &str, name: &str, bytes: &[u8]) {
        self.reconcile_file(folder, name, |_| scan::written(folder, name, bytes));
    }

    /// Reconciles file `name` with what `read` gives — unless a name that
    /// differs only in case stands for its session and still exists: then
    /// it is not read at all.
    pub(super) fn reconcile_file(
        &mut self,
        folder: &str,
        name: &str,
        read: impl FnOnce(&Self) -> FileRead,
    ) {
        let rival = {
            let disk = lock(&self.core.disk);
            reconcile::standing_rival(&disk, folder, name).map(str::to_string)
        };
        let rival = rival.filter(|r| self.core.store.exists(folder, r));
        let mut fx = self.effects();
        match rival {
            Some(by) => {
                let exists = self.core.store.exists(folder, name);
                let mut disk = lock(&self.core.disk);
                reconcile::shadowed(&mut disk, folder, name, &by, exists, &mut fx);
            }
            None => {
                let read = read(self);
                let mut disk = lock(&self.core.disk);
                reconcile::file_read(&mut disk, folder, name, read, &mut fx);
            }
        }
        self.settle(fx);
    }

    /// Re-reads one app folder: its files now, and the entries of files gone.
    /// A folder that cannot be listed keeps its entries and is marked
    /// unreadable; one that is gone is forgotten.
    pub fn sync_folder(&mut self, folder: &str) {
        let mut fx = self.effects();
        let to_read = match self.core.store.session_names(folder) {
            Ok(names) => {
                let manifest = self.manifest_label(folder);
                let mut disk = lock(&self.core.disk);
                reconcile::folder_listed(&mut disk, folder, manifest, names, &mut fx)
            }
            Err(e) => {
                let mut disk = lock(&self.core.disk);
                if e.is_gone() {
                    reconcile::folder_gone(&mut disk, folder, &mut fx);
                } else {
                    reconcile::folder_unreadable(&mut disk, folder, e.failure(), &mut fx);
                }
                Vec::new()
            }
        };
        self.settle(fx);
        for name in to_read {
            self.refresh_file(folder, &name);
        }
    }

    /// Drops an app folder that is gone from the disk view.
    pub fn forget_folder(&mut self, folder: &str) {
        let mut fx = self.effects();
        reconcile::folder_gone(&mut lock(&self.core.disk), folder, &mut fx);
        self.settle(fx);
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
    fn manifest_label(&self, folder: &str) -> Option<AppLabel> {
        self.core
            .store
            .read_manifest(folder)
            .as_deref()
            .and_then(app_label)
    }

    /// Re-reads every file into the disk view (`refresh`, `push --full`, a
    /// watcher overflow; `counted` ones show in `status`). The view is
    /// updated in place, one folder at a time as the scan hands them over:
    /// a file whose content did not change keeps its entry untouched
    /// (nothing allocated, nothing marked for the next push), so repeated
    /// full pushes leave memory where it was. Folders that cannot be
    /// listed and files that hit a transient error keep their last reading.
    pub fn rescan(&mut self, counted: bool) -> Result<(), StoreError> {
        self.scan_all(counted, false).map(drop)
    }

    /// The start's scan: [`Self::rescan`], removing on the way the
    /// temporaries that interrupted writes left (no write of ours has
    /// begun yet), and pushing each app as it is read: the live view
    /// begins as the valid files. Returns how many temporaries it removed
    /// and how many sessions it made live.
    pub(super) fn first_scan(&mut self) -> Result<(usize, u64), StoreError> {
        self.scan_all(false, true)
    }

    /// Reads every file; at the first scan (`first`) also removes the
    /// write temporaries and pushes as it reads.
    fn scan_all(&mut self, counted: bool, first: bool) -> Result<(usize, u64), StoreError> {
        let t = Instant::now();
        let disk = &self.core.disk;
        // One lock for a slice of files, not one per file.
        let known = |folder: &str, probes: &[Probe<'_>], same: &mut Vec<bool>| {
            same.clear();
            let view = lock(disk);
            let app = view.app(folder);
            same.extend(probes.iter().map(|p| {
                app.and_then(|a| a.sessions.get(p.id)).is_some_and(|e| {
                    *e.name == *p.name && matches!(&e.state, Ok(r) if r.hash == p.hash)
                })
            }));
        };
        let mut fx = self.effects();
        // Only into an empty live view may apps go live one by one.
        let push = first && read(&self.core.live).is_empty();
        let mut pushed = 0;
        reconcile::rescan_begin(&mut lock(disk), &mut fx);
        let mut found: Vec<String> = Vec::new();
        let mut held = HashSet::new();
        let done = scan::scan(&self.core.store, first, &known, &mut |mut f| {
            self.hold_scanned(&mut f, &mut held);
            let folder = f.folder.clone();
            let mut disk = lock(disk);
            reconcile::folder_scanned(&mut disk, f, &mut fx);
            if push {
                pushed += view::push_as_read(&disk, &folder, &mut write(&self.core.live));
            }
            found.push(folder);
        })?;
        self.end_holds_not_in(&held);
        {
            let mut disk = lock(disk);
            reconcile::rescan_end(&mut disk, &found, &mut fx);
            if push {
                view::pushed_as_read(&mut disk);
            }
        }
        self.settle(fx);
        // The scan's buffers (a read buffer, a key and a name per file) are
        // freed by now; hand that memory back rather than keep it for the next.
        release_freed_memory();
        tracing::debug!(took = ?t.elapsed(), "rescan done");
        if counted {
            let n = self.core.stats.rescans.fetch_add(1, Ordering::Relaxed) + 1;
            let mut ev = Event::new(EventKind::Rescan);
            ev.count = Some(lock(&self.core.disk).valid_count());
            ev.message = Some(format!("rescan #{n}"));
            self.core.emit(ev);
        }
        Ok((done.temps_removed, pushed))
    }

    /// Does what reconciling asked, once `disk` is let go: counts, log
    /// lines, retries, then the reads it needs next.
    fn settle(&mut self, fx: Effects<'_>) {
        if fx.read_errors > 0 {
            let errors = &self.core.stats.read_errors;
            errors.fetch_add(fx.read_errors, Ordering::Relaxed);
        }
        for note in &fx.notes {
            say(note);
        }
        {
            let mut queue = lock(&self.core.retries);
            if fx.only_scheduled {
                queue.keep_only(&fx.schedule);
            }
            for r in &fx.forget {
                queue.forget(r);
            }
            let now = Instant::now();
            for r in fx.schedule {
                queue.schedule(r, now);
            }
        }
        for next in fx.follow_ups {
            match next {
                FollowUp::Read { folder, name } => self.refresh_file(&folder, &name),
                FollowUp::Label { folder, id, name } => self.read_label(&folder, &id, &name),
            }
        }
    }

    /// Reads what session `id` (file `name`) says of its app, which it now
    /// names; a transient error reads the file again later.
    fn read_label(&mut self, folder: &str, id: &str, name: &str) {
        match self.core.store.read(folder, name) {
            Ok(file) => {
                if let Some(label) = app_label(&file.bytes) {
                    reconcile::label_read(&mut lock(&self.core.disk), folder, id, label);
                }
            }
            Err(e) if e.is_transient() => {
                let retry = Retry::File(folder.into(), name.into());
                lock(&self.core.retries).schedule(retry, Instant::now());
            }
            // Gone or changed: the watcher's report of it reads it again.
            Err(_) => {}
        }
    }
}

/// The log line of a note.
fn say(note: &Note) {
    match note {
        Note::Shadowed { folder, name, by } => {
            tracing::debug!(app = %folder, file = %name, "ignored: {by} stands for this session");
        }
        Note::CaseClash { folder, name } => {
            tracing::warn!(app = %folder, file = %name, "two session files differ only in the case of their names: the one whose name sorts first stands for the session, this one is ignored");
        }
        Note::Transient {
            folder,
            name,
            failure,
        } => {
            tracing::warn!(app = %folder, id = %name, "cannot read the session file for now ({}); keeping what was last read, retrying", failure.message);
        }
        Note::FolderUnreadable { folder, failure } => {
            tracing::warn!(app = %folder, "cannot read the app folder ({}); keeping its sessions as last read", failure.message);
        }
        Note::FolderReadable { folder } => {
            tracing::info!(app = %folder, "the app folder is readable again");
        }
    }
}
