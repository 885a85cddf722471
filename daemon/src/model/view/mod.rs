//! The two views of the sessions:
//! - [`DiskView`]: what the files say now (kept current by the watcher);
//! - [`LiveView`]: what the last push applied; `verify` answers from it.
//!
//! A push is 4D's `MOBILE APP REFRESH SESSIONS`: every valid file replaces
//! its live copy, and a live session whose file is gone or invalid leaves.
//! Both views share one `Arc<SessionRecord>` when a file was pushed
//! unchanged, so a session's data is held once.
//!
//! The disk view remembers which keys changed since the last push, so a
//! push ([`push`]), the `unpushed` count and the list of deleted-but-live
//! sessions cost what changed, not the number of sessions. The set is
//! bounded: past the number of entries plus [`DIRTY_SLACK`] (files created
//! and deleted again without a push, say), it gives way to "everything may
//! have changed", and the next push compares every session once.
//!
//! How what is read of the files becomes entries of the disk view is
//! [`super::reconcile`]'s; the `sessions` listing is [`rows`].

mod live;
mod preview;
mod push;
mod rows;

pub use live::LiveView;
pub use preview::preview;
pub use push::{push_as_read, push_incremental, pushed_as_read, unpushed_count, unpushed_of};
pub use rows::{rows_page, RowCursor, RowSource};

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use mobile_session_proto::{InvalidFile, Status};

use super::app::{folder_label, AppLabel};
use super::names::SessionKey;
use super::session::{Invalid, SessionRecord};

/// One session file as last read.
#[derive(Debug, Clone)]
pub struct DiskEntry {
    /// The file name as it is on disk (case kept).
    pub name: Box<str>,
    pub state: Result<Arc<SessionRecord>, Invalid>,
}

/// What is known of an app folder besides its sessions.
#[derive(Debug, Default, Clone)]
pub struct AppMeta {
    /// From the valid session file with the smallest (lower-case) id read.
    pub session_label: Option<(String, AppLabel)>,
    /// From the folder's `manifest.json`.
    pub manifest_label: Option<AppLabel>,
    /// The folder cannot be listed now; its entries are the last read.
    pub unreadable: bool,
    /// Session files ignored because a name differing only in case stands
    /// for their session: one of them takes over when that file goes.
    pub shadowed: BTreeSet<String>,
}

/// One app folder of the disk view.
#[derive(Debug, Default, Clone)]
pub struct AppView {
    /// Keyed by the lower-case file name. Changed through [`DiskView`]
    /// only, which keeps the counts below.
    pub sessions: BTreeMap<String, DiskEntry>,
    pub meta: AppMeta,
    /// Valid sessions, and pending ones among them: `apps` reads them
    /// without going through a million entries.
    valid: u64,
    pending: u64,
}

impl AppView {
    /// The file name and record of the valid session of app `app_id` (team
    /// `team_id`, `""` for none) whose `device.id` is `device_id`, if any.
    /// The app is checked, not only the folder: team `T`'s app `a.b` and a
    /// team-less app `T.a.b` share folder `T.a.b`.
    pub fn find_device(
        &self,
        app_id: &str,
        team_id: &str,
        device_id: &str,
    ) -> Option<(&str, &Arc<SessionRecord>)> {
        self.sessions.values().find_map(|e| match &e.state {
            Ok(r) if r.device_id.as_deref() == Some(device_id) && r.is_of(app_id, team_id) => {
                Some((&*e.name, r))
            }
            _ => None,
        })
    }

    /// The app id, name and team this folder is known by.
    pub fn label(&self, folder: &str) -> AppLabel {
        folder_label(
            folder,
            self.meta.session_label.as_ref().map(|(_, l)| l),
            self.meta.manifest_label.as_ref(),
        )
    }

    /// Number of valid and of pending sessions.
    pub fn counts(&self) -> (u64, u64) {
        (self.valid, self.pending)
    }

    /// Counts an entry in (`added`) or out.
    fn tally(&mut self, entry: &DiskEntry, added: bool) {
        let Ok(rec) = &entry.state else { return };
        let pending = u64::from(rec.status == Status::Pending);
        if added {
            self.valid += 1;
            self.pending += pending;
        } else {
            self.valid -= 1;
            self.pending -= pending;
        }
    }
}

/// Keys remembered as changed beyond the number of entries before the view
/// stops remembering and compares everything at the next push.
pub const DIRTY_SLACK: usize = 65_536;

/// The disk view, plus what changed since the last push.
#[derive(Debug, Default, Clone)]
pub struct DiskView {
    apps: BTreeMap<String, AppView>,
    /// Keys whose entry changed since the last push.
    dirty: HashSet<SessionKey>,
    /// Too much changed to remember key by key: the next push compares all.
    all_dirty: bool,
    valid: u64,
    invalid: BTreeSet<SessionKey>,
}

impl DiskView {
    pub fn apps(&self) -> &BTreeMap<String, AppView> {
        &self.apps
    }

    pub fn app(&self, folder: &str) -> Option<&AppView> {
        self.apps.get(folder)
    }

    pub fn get(&self, key: &SessionKey) -> Option<&DiskEntry> {
        self.get_in(key.folder(), key.id())
    }

    /// The entry of lower-case id `id` in `folder`.
    pub fn get_in(&self, folder: &str, id: &str) -> Option<&DiskEntry> {
        self.apps.get(folder)?.sessions.get(id)
    }

    fn account(&mut self, key: &SessionKey, entry: &DiskEntry, added: bool) {
        match (&entry.state, added) {
            (Ok(_), true) => self.valid += 1,
            (Ok(_), false) => self.valid -= 1,
            (Err(_), true) => {
                self.invalid.insert(key.clone());
            }
            (Err(_), false) => {
                self.invalid.remove(key);
            }
        }
    }

    /// Puts (or replaces) one file's entry; creates the app if needed.
    /// Returns the entry it replaced.
    pub fn insert(&mut self, folder: &str, entry: DiskEntry) -> Option<DiskEntry> {
        let id = entry.name.to_ascii_lowercase();
        self.insert_id(folder, id, entry)
    }

    /// [`Self::insert`], given the entry's lower-case id.
    pub fn insert_id(&mut self, folder: &str, id: String, entry: DiskEntry) -> Option<DiskEntry> {
        debug_assert_eq!(id, entry.name.to_ascii_lowercase());
        let valid = entry.state.is_ok();
        // The key serves the sets of invalid files and of changed keys
        // only: a valid file while every key is to be compared (the
        // start) builds none.
        let mut key = (!valid || !self.all_dirty).then(|| SessionKey::new(folder, &id));
        let app = self.app_mut(folder);
        app.tally(&entry, true);
        let old = app.sessions.insert(id, entry);
        if let Some(old) = &old {
            app.tally(old, false);
            match &old.state {
                Ok(_) => self.valid -= 1,
                Err(_) => {
                    let k = key.get_or_insert_with(|| SessionKey::new(folder, &old.name));
                    self.invalid.remove(k);
                }
            }
        }
        match &key {
            _ if valid => self.valid += 1,
            Some(k) => {
                self.invalid.insert(k.clone());
            }
            None => {}
        }
        if let Some(k) = key {
            self.note_changed(k);
        }
        old
    }

    pub fn remove(&mut self, key: &SessionKey) -> Option<DiskEntry> {
        let app = self.apps.get_mut(key.folder())?;
        let old = app.sessions.remove(key.id())?;
        app.tally(&old, false);
        self.account(key, &old, false);
        self.note_changed(key.clone());
        Some(old)
    }

    /// Remembers a changed key, unless so much changed that remembering
    /// them one by one costs more than comparing everything once.
    fn note_changed(&mut self, key: SessionKey) {
        if self.all_dirty {
            return;
        }
        self.dirty.insert(key);
        let entries = self.valid as usize + self.invalid.len();
        if self.dirty.len() > entries + DIRTY_SLACK {
            self.mark_all_dirty();
        }
    }

    /// The app folder, registered if new (it may have no session yet).
    pub fn app_mut(&mut self, folder: &str) -> &mut AppView {
        // Looked up first: the name is copied only for a new app.
        if !self.apps.contains_key(folder) {
            self.apps.insert(folder.to_string(), AppView::default());
        }
        self.apps
            .get_mut(folder)
            .expect("the app folder was registered just above")
    }

    /// An app folder already in the view, to change; `None` if it is not.
    pub fn app_mut_if_known(&mut self, folder: &str) -> Option<&mut AppView> {
        self.apps.get_mut(folder)
    }

    /// Removes an app folder; returns it, with the entries it had.
    pub fn remove_app(&mut self, folder: &str) -> Option<AppView> {
        let ids: Vec<String> = self.apps.get(folder)?.sessions.keys().cloned().collect();
        let mut removed = std::collections::BTreeMap::new();
        for id in ids {
            if let Some(e) = self.remove(&SessionKey::new(folder, &id)) {
                removed.insert(id, e);
            }
        }
        let mut app = self.apps.remove(folder)?;
        for e in removed.values() {
            app.tally(e, true);
        }
        app.sessions = removed;
        Some(app)
    }

    /// Forgets the changed keys: the next push compares every session.
    pub fn mark_all_dirty(&mut self) {
        self.all_dirty = true;
        self.dirty.clear();
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &DiskEntry)> {
        self.apps
            .iter()
            .flat_map(|(f, a)| a.sessions.values().map(move |e| (f.as_str(), e)))
    }

    /// Entries after `after` (exclusive) in (folder, id) order, with their ids.
    pub fn entries_after<'a>(
        &'a self,
        after: Option<(&'a str, &'a str)>,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a DiskEntry)> + 'a {
        let start = match after {
            Some((folder, _)) => Bound::Included(folder),
            None => Bound::Unbounded,
        };
        self.apps
            .range::<str, _>((start, Bound::Unbounded))
            .flat_map(move |(folder, app)| {
                let from = match after {
                    Some((f, id)) if f == folder => Bound::Excluded(id),
                    _ => Bound::Unbounded,
                };
                app.sessions
                    .range::<str, _>((from, Bound::Unbounded))
                    .map(move |(id, e)| (folder.as_str(), id.as_str(), e))
            })
    }

    pub fn valid_count(&self) -> u64 {
        self.valid
    }

    pub fn invalid_count(&self) -> u64 {
        self.invalid.len() as u64
    }

    fn invalid_files(&self, root: &Path) -> Vec<InvalidFile> {
        self.invalid
            .iter()
            .filter_map(|key| {
                let e = self.get(key)?;
                let inv = e.state.as_ref().err()?;
                Some(InvalidFile {
                    path: root.join(key.folder()).join(&*e.name).display().to_string(),
                    code: inv.code(),
                    error: inv.error.clone(),
                })
            })
            .collect()
    }

    /// Live sessions with no entry on disk (their file was deleted), in
    /// (folder, id) order. Only keys changed since the last push can be such.
    pub fn deleted_but_live(&self, live: &LiveView) -> Vec<(SessionKey, Arc<SessionRecord>)> {
        let mut out: Vec<(SessionKey, Arc<SessionRecord>)> = if self.all_dirty {
            live.iter()
                .filter(|(k, _)| self.get(k).is_none())
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect()
        } else {
            self.dirty
                .iter()
                .filter(|k| self.get(k).is_none())
                .filter_map(|k| Some((k.clone(), live.get_key(k)?.clone())))
                .collect()
        };
        out.sort_by(|a, b| (a.0.folder(), a.0.id()).cmp(&(b.0.folder(), b.0.id())));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testgen::{invalid_entry as invalid, valid_entry as entry};

    #[test]
    fn a_removed_app_gives_back_its_entries_and_counts_follow() {
        let mut disk = DiskView::default();
        disk.insert("A", entry("aaaa", "1"));
        disk.insert("A", invalid("bbbb"));
        disk.insert("B", entry("cccc", "3"));
        let gone = disk.remove_app("A").unwrap();
        assert_eq!(gone.sessions.len(), 2);
        assert_eq!((disk.valid_count(), disk.invalid_count()), (1, 0));
        assert!(disk.app("A").is_none());
    }
}
