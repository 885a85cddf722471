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
//! push, the `unpushed` count and the list of deleted-but-live sessions cost
//! what changed, not the number of sessions. The set is bounded: past the
//! number of entries plus [`DIRTY_SLACK`] (files created and deleted again
//! without a push, say), it gives way to "everything may have changed",
//! and the next push compares every session once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use mobile_session_proto::{InvalidFile, PushReport, Status, Unpushed};

use super::app::{folder_label, AppLabel};
use super::names::{write_key, SessionKey};
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
    pub shadowed: std::collections::BTreeSet<String>,
}

impl AppMeta {
    /// Takes the label of valid session `id` if it is the smallest seen.
    pub fn offer_session_label(&mut self, id: &str, label: AppLabel) {
        if self
            .session_label
            .as_ref()
            .is_none_or(|(from, _)| id <= from.as_str())
        {
            self.session_label = Some((id.to_string(), label));
        }
    }
}

/// One app folder of the disk view.
#[derive(Debug, Default, Clone)]
pub struct AppView {
    /// Keyed by the lower-case file name.
    pub sessions: BTreeMap<String, DiskEntry>,
    pub meta: AppMeta,
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
        let valid = self.sessions.values().filter_map(|e| e.state.as_ref().ok());
        valid.fold((0, 0), |(n, p), r| {
            (n + 1, p + u64::from(r.status == Status::Pending))
        })
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
        self.apps.get(key.folder())?.sessions.get(key.id())
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
        let key = SessionKey::new(folder, &entry.name);
        // Retire the old entry before counting the new one: both may be invalid.
        let old = self.remove(&key);
        self.account(&key, &entry, true);
        self.apps
            .entry(folder.to_string())
            .or_default()
            .sessions
            .insert(key.id().to_string(), entry);
        self.note_changed(key);
        old
    }

    pub fn remove(&mut self, key: &SessionKey) -> Option<DiskEntry> {
        let old = self.apps.get_mut(key.folder())?.sessions.remove(key.id())?;
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
        self.apps.entry(folder.to_string()).or_default()
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
            live.sessions
                .iter()
                .filter(|(k, _)| self.get(k).is_none())
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect()
        } else {
            self.dirty
                .iter()
                .filter(|k| self.get(k).is_none())
                .filter_map(|k| Some((k.clone(), live.sessions.get(k)?.clone())))
                .collect()
        };
        out.sort_by(|a, b| (a.0.folder(), a.0.id()).cmp(&(b.0.folder(), b.0.id())));
        out
    }
}

/// What the server holds in memory after the last push: O(1) by key.
#[derive(Debug, Default, Clone)]
pub struct LiveView {
    sessions: HashMap<SessionKey, Arc<SessionRecord>>,
}

impl LiveView {
    /// Looks up session `id` (any case) of `folder` without allocating.
    pub fn get(&self, folder: &str, id: &str) -> Option<&Arc<SessionRecord>> {
        thread_local! {
            static KEY: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
        }
        KEY.with(|k| {
            let mut k = k.borrow_mut();
            write_key(&mut k, folder, id);
            self.sessions.get(k.as_str())
        })
    }

    pub fn get_key(&self, key: &SessionKey) -> Option<&Arc<SessionRecord>> {
        self.sessions.get(key)
    }

    pub fn insert(&mut self, key: SessionKey, rec: Arc<SessionRecord>) {
        self.sessions.insert(key, rec);
    }

    pub fn remove(&mut self, key: &SessionKey) -> Option<Arc<SessionRecord>> {
        self.sessions.remove(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &SessionKey> {
        self.sessions.keys()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// How a valid disk entry compares to the live view.
pub fn unpushed_of(
    live: Option<&Arc<SessionRecord>>,
    disk: &Arc<SessionRecord>,
) -> Option<Unpushed> {
    match live {
        None => Some(Unpushed::New),
        Some(l) if l.same_content(disk) => None,
        Some(_) => Some(Unpushed::Changed),
    }
}

/// Whether the `sessions` row of one key carries an unpushed mark.
fn key_unpushed(disk: &DiskView, live: &LiveView, key: &SessionKey) -> bool {
    let l = live.get_key(key);
    match disk.get(key).map(|e| &e.state) {
        Some(Ok(rec)) => unpushed_of(l, rec).is_some(),
        Some(Err(_)) | None => l.is_some(),
    }
}

/// Counts `sessions` rows that carry an unpushed mark (O(changes since the
/// last push), except when too much changed to remember).
pub fn unpushed_count(disk: &DiskView, live: &LiveView) -> u64 {
    if !disk.all_dirty {
        return disk
            .dirty
            .iter()
            .filter(|k| key_unpushed(disk, live, k))
            .count() as u64;
    }
    let mut n = 0u64;
    let mut key = String::with_capacity(128);
    for (folder, entry) in disk.entries() {
        write_key(&mut key, folder, &entry.name);
        let l = live.sessions.get(key.as_str());
        n += u64::from(match &entry.state {
            Ok(rec) => unpushed_of(l, rec).is_some(),
            Err(_) => l.is_some(),
        });
    }
    n + live
        .sessions
        .keys()
        .filter(|k| disk.get(k).is_none())
        .count() as u64
}

/// Applies the disk view to the live view in place, looking only at what
/// changed since the last push (everything when too much changed).
pub fn push_incremental(root: &Path, disk: &mut DiskView, live: &mut LiveView) -> PushReport {
    if disk.all_dirty {
        disk.all_dirty = false;
        disk.dirty.clear();
        return push_all_in_place(root, disk, live);
    }
    let mut report = PushReport::default();
    for key in std::mem::take(&mut disk.dirty) {
        let now = disk.get(&key).and_then(|e| e.state.as_ref().ok());
        match (now, live.sessions.get(&key)) {
            (Some(rec), None) => {
                report.added += 1;
                live.sessions.insert(key, rec.clone());
            }
            (Some(rec), Some(old)) => {
                if !old.same_content(rec) {
                    report.updated += 1;
                }
                live.sessions.insert(key, rec.clone());
            }
            (None, Some(_)) => {
                report.removed += 1;
                live.sessions.remove(&key);
            }
            (None, None) => {}
        }
    }
    report.unchanged = disk.valid - report.added - report.updated;
    report.invalid = disk.invalid_files(root);
    report
}

/// Compares every session (when too much changed). Updates the live map in place,
/// looking keys up through one reused buffer: an unchanged session costs a
/// hash lookup, no allocation.
fn push_all_in_place(root: &Path, disk: &DiskView, live: &mut LiveView) -> PushReport {
    let mut report = PushReport::default();
    let before = live.sessions.len() as u64;
    let mut key = String::with_capacity(128);
    for (folder, app) in &disk.apps {
        for (id_lower, entry) in &app.sessions {
            let Ok(rec) = &entry.state else { continue };
            write_key(&mut key, folder, id_lower);
            match live.sessions.get_mut(key.as_str()) {
                Some(old) => {
                    if old.same_content(rec) {
                        report.unchanged += 1;
                    } else {
                        report.updated += 1;
                    }
                    *old = rec.clone();
                }
                None => {
                    report.added += 1;
                    live.sessions
                        .insert(SessionKey::from(key.as_str()), rec.clone());
                }
            }
        }
    }
    // Live sessions that no valid file matched leave; usually there are none.
    let matched = report.updated + report.unchanged;
    if matched < before {
        live.sessions
            .retain(|k, _| disk.get(k).is_some_and(|e| e.state.is_ok()));
        report.removed = before - matched;
    }
    report.invalid = disk.invalid_files(root);
    report
}

/// Applies the disk view to a copy of the live view, the straightforward
/// way: the reference the in-place pushes are tested against.
#[cfg(test)]
pub fn push(root: &Path, disk: &DiskView, live: &LiveView) -> (LiveView, PushReport) {
    let mut report = PushReport::default();
    let mut next = HashMap::with_capacity(live.sessions.len().max(16));
    for (folder, entry) in disk.entries() {
        if let Ok(rec) = &entry.state {
            let key = SessionKey::new(folder, &entry.name);
            match live.sessions.get(&key) {
                None => report.added += 1,
                Some(old) if old.same_content(rec) => report.unchanged += 1,
                Some(_) => report.updated += 1,
            }
            next.insert(key, rec.clone());
        }
    }
    report.invalid = disk.invalid_files(root);
    report.removed = live
        .sessions
        .keys()
        .filter(|k| !next.contains_key(*k))
        .count() as u64;
    (LiveView { sessions: next }, report)
}

/// One `sessions` row before the command renders it.
#[derive(Debug, Clone)]
pub struct RowSource {
    pub folder: String,
    /// File name on disk (or the live id when the file is gone).
    pub name: String,
    /// The data shown: the file's when valid, else the live copy's.
    pub record: Option<Arc<SessionRecord>>,
    pub unpushed: Option<Unpushed>,
    /// Why the file is invalid, when it is.
    pub invalid: Option<Invalid>,
}

/// Where a listing stopped: the (folder, lower-case id) of the last entry
/// it looked at.
pub type RowCursor = (String, String);

/// The next page of `sessions` rows: up to `max` rows after `after`, in
/// (folder, id) order, of the folder `within` (or of all), that `keep`
/// accepts. Rows are every disk entry (a
/// valid file, or an invalid one with its live copy if any) and the live
/// sessions whose file was deleted (`deleted`, given sorted).
/// Returns the rows and where to continue (`None` at the end).
#[allow(clippy::too_many_arguments)]
pub fn rows_page(
    disk: &DiskView,
    live: &LiveView,
    deleted: &[(SessionKey, Arc<SessionRecord>)],
    within: Option<&str>,
    after: Option<&RowCursor>,
    max: usize,
    mut keep: impl FnMut(&RowSource) -> bool,
) -> (Vec<RowSource>, Option<RowCursor>) {
    // One app's rows: start at its folder and stop after it.
    let after_ref = after
        .map(|(f, i)| (f.as_str(), i.as_str()))
        .or(within.map(|f| (f, "")));
    let in_scope = move |f: &str| within.is_none_or(|w| w == f);
    let mut on_disk = disk
        .entries_after(after_ref)
        .take_while(move |(f, _, _)| in_scope(f))
        .peekable();
    let first_deleted =
        deleted.partition_point(|(k, _)| after_ref.is_some_and(|a| (k.folder(), k.id()) <= a));
    let mut gone = deleted[first_deleted..]
        .iter()
        .filter(move |(k, _)| in_scope(k.folder()))
        .peekable();
    let mut rows = Vec::new();
    loop {
        let take_disk = match (on_disk.peek(), gone.peek()) {
            (None, None) => return (rows, None),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((f, id, _)), Some((k, _))) => {
                let (here, there) = ((*f, *id), (k.folder(), k.id()));
                if here == there {
                    // Its file came back since the listing started: the
                    // file's row stands for it.
                    gone.next();
                }
                here <= there
            }
        };
        let (cursor, row) = if take_disk {
            let Some((folder, id, entry)) = on_disk.next() else {
                return (rows, None);
            };
            let live_rec = live.get(folder, id);
            let row = match &entry.state {
                Ok(rec) => RowSource {
                    folder: folder.to_string(),
                    name: entry.name.to_string(),
                    record: Some(rec.clone()),
                    unpushed: unpushed_of(live_rec, rec),
                    invalid: None,
                },
                Err(inv) => RowSource {
                    folder: folder.to_string(),
                    name: entry.name.to_string(),
                    record: live_rec.cloned(),
                    unpushed: live_rec.map(|_| Unpushed::Invalid),
                    invalid: Some(inv.clone()),
                },
            };
            ((folder, id), row)
        } else {
            let Some((key, rec)) = gone.next() else {
                return (rows, None);
            };
            let row = RowSource {
                folder: key.folder().to_string(),
                name: rec.id.to_string(),
                record: Some(rec.clone()),
                unpushed: Some(Unpushed::Deleted),
                invalid: None,
            };
            ((key.folder(), key.id()), row)
        };
        if keep(&row) {
            rows.push(row);
            if rows.len() >= max {
                let more = on_disk.peek().is_some() || gone.peek().is_some();
                let next = (cursor.0.to_string(), cursor.1.to_string());
                return (rows, more.then_some(next));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::session::{content_hash, Fault};

    fn rec(id: &str, status: Status, text: &str) -> Arc<SessionRecord> {
        Arc::new(SessionRecord {
            id: id.into(),
            status,
            device_id: None,
            email: None,
            device: "null".into(),
            hash: content_hash(text.as_bytes()),
            claims: 0,
        })
    }

    fn entry(id: &str, text: &str) -> DiskEntry {
        DiskEntry {
            name: id.into(),
            state: Ok(rec(id, Status::Accepted, text)),
        }
    }

    fn invalid(id: &str) -> DiskEntry {
        DiskEntry {
            name: id.into(),
            state: Err(Invalid::new(Fault::Json, "x")),
        }
    }

    fn all_rows(disk: &DiskView, live: &LiveView, page: usize) -> Vec<RowSource> {
        let deleted = disk.deleted_but_live(live);
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (rows, next) = rows_page(disk, live, &deleted, None, cursor.as_ref(), page, |r| {
                r.record.is_some()
            });
            out.extend(rows);
            match next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn push_counts_and_marks() {
        let root = Path::new("/m");
        let mut disk = DiskView::default();
        disk.insert("A", entry("aaaa", "1"));
        disk.insert("A", entry("BBBB", "2"));
        let (live, r) = push(root, &disk, &LiveView::default());
        assert_eq!((r.added, r.updated, r.removed, r.unchanged), (2, 0, 0, 0));
        assert!(live.get("A", "bbbb").is_some());
        assert_eq!(unpushed_count(&disk, &live), 0);

        disk.insert("A", entry("aaaa", "1 changed"));
        disk.remove(&SessionKey::new("A", "bbbb"));
        disk.insert("A", invalid("cccc"));
        disk.insert("A", entry("dddd", "4"));
        let rows = all_rows(&disk, &live, 1000);
        let marks: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.unpushed)).collect();
        assert_eq!(
            marks,
            [
                ("aaaa", Some(Unpushed::Changed)),
                ("BBBB", Some(Unpushed::Deleted)),
                ("dddd", Some(Unpushed::New))
            ]
        );
        assert_eq!(unpushed_count(&disk, &live), 3);
        let (live2, r) = push(root, &disk, &live);
        assert_eq!((r.added, r.updated, r.removed, r.unchanged), (1, 1, 1, 0));
        assert_eq!(r.invalid.len(), 1);
        assert_eq!(r.invalid[0].path, "/m/A/cccc");
        assert_eq!(live2.len(), 2);
        assert_eq!(unpushed_count(&disk, &live2), 0);
    }

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

    #[test]
    fn churn_without_a_push_is_bounded_and_pushes_right() {
        let root = Path::new("/m");
        let mut disk = DiskView::default();
        disk.insert("A", entry("aaaa", "1"));
        let mut live = LiveView::default();
        push_incremental(root, &mut disk, &mut live);
        // Files that come and go, never pushed: remembered up to a bound.
        for i in 0..(DIRTY_SLACK as u32 + 10) {
            let id = format!("{i:08x}");
            disk.insert("A", entry(&id, "x"));
            disk.remove(&SessionKey::new("A", &id));
        }
        assert!(disk.dirty.len() <= 1 + DIRTY_SLACK);
        assert!(disk.all_dirty);
        disk.insert("A", entry("bbbb", "2"));
        let r = push_incremental(root, &mut disk, &mut live);
        assert_eq!((r.added, r.unchanged, r.removed), (1, 1, 0));
        assert!(!disk.all_dirty && disk.dirty.is_empty());
    }

    #[test]
    fn pages_cover_every_row_once_in_order() {
        let mut disk = DiskView::default();
        for f in ["a", "a.b", "b"] {
            for i in 0..7u8 {
                disk.insert(f, entry(&format!("{i:04x}"), f));
            }
        }
        let (live, _) = push(Path::new("/m"), &disk, &LiveView::default());
        // Files deleted while live, interleaved with the others.
        disk.remove(&SessionKey::new("a.b", "0003"));
        disk.remove(&SessionKey::new("b", "0006"));
        disk.insert("a", invalid("0009"));
        let whole = all_rows(&disk, &live, usize::MAX);
        assert_eq!(whole.len(), 21);
        let order: Vec<(String, String)> = whole
            .iter()
            .map(|r| (r.folder.clone(), r.name.to_ascii_lowercase()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        for page in [1, 2, 3, 5, 20] {
            let paged: Vec<_> = all_rows(&disk, &live, page)
                .iter()
                .map(|r| (r.folder.clone(), r.name.to_ascii_lowercase()))
                .collect();
            assert_eq!(paged, order, "page size {page}");
        }
    }

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Valid(u8, u8, u8),
        Invalid(u8, u8),
        Remove(u8, u8),
        Push,
        Rescan,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2u8, 0..6u8, 0..3u8).prop_map(|(f, i, t)| Op::Valid(f, i, t)),
            (0..2u8, 0..6u8).prop_map(|(f, i)| Op::Invalid(f, i)),
            (0..2u8, 0..6u8).prop_map(|(f, i)| Op::Remove(f, i)),
            Just(Op::Push),
            Just(Op::Rescan),
        ]
    }

    proptest! {
        /// The incremental push gives the full push's answer and live view,
        /// and the deleted-but-live list matches a full comparison.
        #[test]
        fn incremental_push_equals_full_push(ops in proptest::collection::vec(op(), 1..60)) {
            let root = Path::new("/m");
            let mut disk = DiskView::default();
            let mut live = LiveView::default();
            for op in ops {
                let name = |f: u8, i: u8| (format!("F{f}"), format!("{i:04x}"));
                match op {
                    Op::Valid(f, i, t) => {
                        let (f, n) = name(f, i);
                        disk.insert(&f, entry(&n, &format!("text {t}")));
                    }
                    Op::Invalid(f, i) => {
                        let (f, n) = name(f, i);
                        disk.insert(&f, invalid(&n));
                    }
                    Op::Remove(f, i) => {
                        let (f, n) = name(f, i);
                        disk.remove(&SessionKey::new(&f, &n));
                    }
                    Op::Rescan => disk.mark_all_dirty(),
                    Op::Push => {
                        let mut all = disk.clone();
                        all.mark_all_dirty();
                        prop_assert_eq!(unpushed_count(&disk, &live), unpushed_count(&all, &live));
                        let keys = |v: Vec<(SessionKey, Arc<SessionRecord>)>| {
                            v.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
                        };
                        prop_assert_eq!(keys(disk.deleted_but_live(&live)), keys(all.deleted_but_live(&live)));
                        let (full_live, full) = push(root, &disk, &live);
                        let inc = push_incremental(root, &mut disk, &mut live);
                        prop_assert_eq!(&inc, &full);
                        let mut a: Vec<_> = live.sessions.iter().map(|(k, v)| (k.clone(), v.hash)).collect();
                        let mut b: Vec<_> = full_live.sessions.iter().map(|(k, v)| (k.clone(), v.hash)).collect();
                        a.sort();
                        b.sort();
                        prop_assert_eq!(a, b);
                        prop_assert_eq!(unpushed_count(&disk, &live), 0);
                    }
                }
            }
        }
    }
}
