//! Files being written: what the core reads of a session file meets
//! [`Writes`]' rule before it reaches the disk view. An invalid reading of
//! a file that a writer still has open is held back, so the file keeps its
//! last good entry (and its live session stays through a push) until the
//! writer closes it or `write_grace_ms` passes (ARCHITECTURE.md, "Keeping
//! the disk view").

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use mobile_session_proto::InvalidFile;
use tokio::sync::Notify;

use super::txn::Txn;
use super::Core;
use crate::locks::lock;
use crate::model::reconcile::{FileRead, FolderScan, Scanned, Writes};
use crate::model::session::Invalid;
use crate::store::scan;

/// The held files and the watcher's word on writers (a leaf lock), and the
/// signal the settle loop waits on to time the end of a new hold's grace.
#[derive(Default)]
pub struct Holds {
    writes: Mutex<Writes>,
    started: Notify,
}

impl Core {
    fn writes(&self) -> std::sync::MutexGuard<'_, Writes> {
        lock(&self.holds.writes)
    }

    /// The watcher saw `path` written into (or changed, when polling):
    /// where no lease can tell, it counts as open for writing until
    /// `until`, or until [`Core::note_closed`].
    pub fn note_writing(&self, path: &Path, until: Instant) {
        self.writes().note_writing(path, Instant::now(), until);
    }

    /// The watcher saw a writer close `path`, or the file replaced or removed.
    pub fn note_closed(&self, path: &Path) {
        self.writes().note_closed(path);
    }

    /// The held files to read again: those whose grace has passed (each
    /// handed out once), or with `all`, every one (polling looks at them
    /// at each pass).
    pub fn held_to_recheck(&self, all: bool) -> Vec<PathBuf> {
        let grace = self.config().write_grace();
        let mut writes = self.writes();
        let due = writes.take_due(Instant::now(), grace);
        if all {
            writes.held_paths()
        } else {
            due
        }
    }

    /// When the next held file's grace ends.
    pub fn next_hold_expiry(&self) -> Option<Instant> {
        let grace = self.config().write_grace();
        self.writes().next_expiry(grace)
    }

    /// Resolves once a file is held after the last call (at once if one
    /// was held since).
    pub async fn hold_started(&self) {
        self.holds.started.notified().await;
    }

    /// The files being written, whose last good entry stands meanwhile.
    pub fn writing_files(&self) -> Vec<InvalidFile> {
        let held = self.writes().held_files();
        held.into_iter()
            .map(|h| InvalidFile {
                path: h.path.display().to_string(),
                code: h.code,
                error: h.error,
            })
            .collect()
    }

    /// The paths of the files being written (empty, mostly).
    pub fn writing_paths(&self) -> HashSet<PathBuf> {
        let writes = self.writes();
        if !writes.any_held() {
            return HashSet::new();
        }
        writes.held_files().into_iter().map(|h| h.path).collect()
    }
}

impl Txn<'_> {
    /// Reads session file `name` for the disk view: an invalid reading of
    /// a file a writer still has open comes back as [`FileRead::Writing`].
    pub(super) fn read_watched(&self, folder: &str, name: &str) -> FileRead {
        let read = scan::read_entry(self.store(), folder, name);
        match &read {
            FileRead::Found(entry, _) => match &entry.state {
                Err(invalid) => {
                    if self.held_back(folder, name, invalid) {
                        return FileRead::Writing;
                    }
                }
                Ok(_) => self.release(folder, name),
            },
            FileRead::Gone => self.release(folder, name),
            // Nothing known of the content: the hold stands.
            FileRead::Transient(_) | FileRead::FolderUnreadable(_) | FileRead::Writing => {}
        }
        read
    }

    /// A rescan's readings of one folder meet the same rule: a held file is
    /// reported as unchanged (the view keeps its entry, or has none). Every
    /// hold is decided anew: the paths held now go into `still`, and
    /// [`Self::end_holds_not_in`] ends the others once the scan is done.
    pub(super) fn hold_scanned(&self, f: &mut FolderScan, still: &mut HashSet<PathBuf>) {
        let Ok(entries) = &mut f.entries else {
            return;
        };
        for (_, found) in entries.iter_mut() {
            let Scanned::Read(entry) = found else {
                continue;
            };
            let Err(invalid) = &entry.state else {
                continue;
            };
            if self.held_back(&f.folder, &entry.name, invalid) {
                still.insert(self.store().session_path(&f.folder, &entry.name));
                *found = Scanned::Same;
            }
        }
    }

    /// Ends the holds of files a whole rescan did not hold again.
    pub(super) fn end_holds_not_in(&self, still: &HashSet<PathBuf>) {
        self.core.writes().retain_held(|p| still.contains(p));
    }

    /// Whether an invalid reading of file `name` is held back: asks the
    /// store whether a writer has the file open (no lock held), then the rule.
    fn held_back(&self, folder: &str, name: &str, invalid: &Invalid) -> bool {
        let grace = self.config().write_grace();
        let path = self.store().session_path(folder, name);
        if grace.is_zero() {
            self.core.writes().release(&path);
            return false;
        }
        let writer = self.store().writer(folder, name);
        let fault = (invalid.code(), invalid.error.as_str());
        let held = self
            .core
            .writes()
            .hold(&path, writer, fault, Instant::now(), grace);
        if held {
            tracing::debug!(app = %folder, id = %name, ?writer, "being written: keeping what was last read");
            self.core.holds.started.notify_one();
        }
        held
    }

    /// A reading of file `name` was taken: it is not held any more.
    fn release(&self, folder: &str, name: &str) {
        let mut writes = self.core.writes();
        if writes.any_held() {
            writes.release(&self.core.store.session_path(folder, name));
        }
    }
}
