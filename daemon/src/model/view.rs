//! The two views of the sessions (design §2):
//! - [`DiskView`]: what the files say now;
//! - [`LiveView`]: what the last push applied; `verify` answers from it.
//!
//! Both share the same `Arc<SessionRecord>` when a file has been pushed
//! unchanged, so a session's text is held once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use mobile_session_proto::{InvalidFile, PushReport, SessionRow, Status, Unpushed};

use crate::session::{Invalid, SessionRecord};

/// One session file as last read.
#[derive(Debug, Clone)]
pub struct DiskEntry {
    /// The file name as it is on disk (case kept).
    pub name: Box<str>,
    pub state: Result<Arc<SessionRecord>, Invalid>,
}

/// One app folder of the disk view.
#[derive(Debug, Default, Clone)]
pub struct AppView {
    /// Keyed by the lower-cased file name.
    pub sessions: BTreeMap<String, DiskEntry>,
}

impl AppView {
    /// The file name and record of the valid session whose `device.id` is
    /// `device_id`, if any.
    pub fn find_device(&self, device_id: &str) -> Option<(&str, &Arc<SessionRecord>)> {
        self.sessions.values().find_map(|e| match &e.state {
            Ok(r) if r.device_id.as_deref() == Some(device_id) => Some((&*e.name, r)),
            _ => None,
        })
    }
}

/// The disk view, plus what changed since the last push, so that a push and
/// the counts of `status` cost what changed, not the number of sessions.
#[derive(Debug, Default, Clone)]
pub struct DiskView {
    apps: BTreeMap<String, AppView>,
    /// Live keys whose entry changed since the last push.
    dirty: HashSet<String>,
    /// Everything may have changed (a rescan): the next push compares all.
    all_dirty: bool,
    valid: u64,
    /// `(folder, lower-case name)` of the invalid files.
    invalid: BTreeSet<(String, String)>,
}

impl DiskView {
    pub fn apps(&self) -> &BTreeMap<String, AppView> {
        &self.apps
    }

    pub fn get(&self, folder: &str, id_lower: &str) -> Option<&DiskEntry> {
        self.apps.get(folder)?.sessions.get(id_lower)
    }

    fn account(&mut self, folder: &str, key: &str, entry: &DiskEntry, sign: bool) {
        match &entry.state {
            Ok(_) if sign => self.valid += 1,
            Ok(_) => self.valid -= 1,
            Err(_) if sign => {
                self.invalid.insert((folder.to_string(), key.to_string()));
            }
            Err(_) => {
                self.invalid.remove(&(folder.to_string(), key.to_string()));
            }
        }
    }

    /// Puts (or replaces) one file's entry; creates the app if needed.
    pub fn insert(&mut self, folder: &str, entry: DiskEntry) {
        let key = entry.name.to_ascii_lowercase();
        // Retire the old entry before counting the new one: both may be invalid.
        self.remove(folder, &key);
        self.account(folder, &key, &entry, true);
        self.dirty.insert(live_key(folder, &key));
        self.apps
            .entry(folder.to_string())
            .or_default()
            .sessions
            .insert(key, entry);
    }

    pub fn remove(&mut self, folder: &str, id_lower: &str) -> Option<DiskEntry> {
        let old = self.apps.get_mut(folder)?.sessions.remove(id_lower)?;
        self.account(folder, id_lower, &old, false);
        self.dirty.insert(live_key(folder, id_lower));
        Some(old)
    }

    /// Registers an app folder (it may have no session yet).
    pub fn ensure_app(&mut self, folder: &str) {
        self.apps.entry(folder.to_string()).or_default();
    }

    /// Removes an app folder; returns the entries it had.
    pub fn remove_app(&mut self, folder: &str) -> Option<AppView> {
        let keys: Vec<String> = self.apps.get(folder)?.sessions.keys().cloned().collect();
        let mut removed = AppView::default();
        for k in keys {
            if let Some(e) = self.remove(folder, &k) {
                removed.sessions.insert(k, e);
            }
        }
        self.apps.remove(folder);
        Some(removed)
    }

    /// A view built in bulk by a scan: counts computed once, everything dirty.
    pub fn from_apps(apps: BTreeMap<String, AppView>) -> Self {
        let mut view = DiskView {
            apps,
            all_dirty: true,
            ..Default::default()
        };
        for (folder, app) in &view.apps {
            for (key, e) in &app.sessions {
                match e.state {
                    Ok(_) => view.valid += 1,
                    Err(_) => {
                        view.invalid.insert((folder.clone(), key.clone()));
                    }
                }
            }
        }
        view
    }

    /// Marks everything as changed (the view was rebuilt by a rescan).
    pub fn mark_all_dirty(&mut self) {
        self.all_dirty = true;
        self.dirty.clear();
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &DiskEntry)> {
        self.apps
            .iter()
            .flat_map(|(f, a)| a.sessions.values().map(move |e| (f.as_str(), e)))
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
            .filter_map(|(folder, key)| {
                let e = self.get(folder, key)?;
                let inv = e.state.as_ref().err()?;
                Some(InvalidFile {
                    path: root.join(folder).join(&*e.name).display().to_string(),
                    code: inv.code,
                    error: inv.error.clone(),
                })
            })
            .collect()
    }
}

/// The live key of a session: `folder/lower-case id` (neither contains `/`).
pub fn live_key(folder: &str, id: &str) -> String {
    let mut k = String::with_capacity(folder.len() + 1 + id.len());
    write_live_key(&mut k, folder, id);
    k
}

/// Writes a live key into `buf` (cleared first), for lookups without allocating.
pub fn write_live_key(buf: &mut String, folder: &str, id: &str) {
    buf.clear();
    buf.push_str(folder);
    buf.push('/');
    let start = buf.len();
    buf.push_str(id);
    buf[start..].make_ascii_lowercase();
}

/// Splits a live key back into its folder and lower-case id.
pub fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or((key, ""))
}

/// What the server holds in memory after the last push: O(1) by key.
#[derive(Debug, Default, Clone)]
pub struct LiveView {
    pub sessions: HashMap<String, Arc<SessionRecord>>,
}

impl LiveView {
    pub fn get(&self, folder: &str, id: &str) -> Option<&Arc<SessionRecord>> {
        thread_local! {
            static KEY: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
        }
        KEY.with(|k| {
            let mut k = k.borrow_mut();
            write_live_key(&mut k, folder, id);
            self.sessions.get(k.as_str())
        })
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

/// The rows of `sessions` (design §4): every valid file, plus live sessions
/// whose file is gone (`deleted`) or no longer valid (`invalid`). Sorted by
/// app, then id.
pub fn session_rows(disk: &DiskView, live: &LiveView) -> Vec<RowSource> {
    let mut rows = Vec::with_capacity(disk.apps.values().map(|a| a.sessions.len()).sum());
    for (folder, entry) in disk.entries() {
        let live_rec = live.get(folder, &entry.name);
        match &entry.state {
            Ok(rec) => rows.push(RowSource {
                folder: folder.to_string(),
                name: entry.name.to_string(),
                record: rec.clone(),
                unpushed: unpushed_of(live_rec, rec),
            }),
            Err(_) => {
                if let Some(l) = live_rec {
                    rows.push(RowSource {
                        folder: folder.to_string(),
                        name: entry.name.to_string(),
                        record: l.clone(),
                        unpushed: Some(Unpushed::Invalid),
                    });
                }
            }
        }
    }
    for (key, rec) in &live.sessions {
        let (folder, id_lower) = split_key(key);
        if disk.get(folder, id_lower).is_none() {
            rows.push(RowSource {
                folder: folder.to_string(),
                name: rec.id.to_string(),
                record: rec.clone(),
                unpushed: Some(Unpushed::Deleted),
            });
        }
    }
    rows.sort_by(|a, b| {
        (a.folder.as_str(), a.name.to_ascii_lowercase())
            .cmp(&(b.folder.as_str(), b.name.to_ascii_lowercase()))
    });
    rows
}

/// A `sessions` row before it is rendered for the wire.
#[derive(Debug, Clone)]
pub struct RowSource {
    pub folder: String,
    /// File name on disk (or the live id when the file is gone).
    pub name: String,
    pub record: Arc<SessionRecord>,
    pub unpushed: Option<Unpushed>,
}

impl RowSource {
    /// Renders the row; `redact` hides the device's push token (readers).
    pub fn to_row(&self, root: &Path, redact: bool) -> SessionRow {
        let device = if redact {
            let mut d: serde_json::Value =
                serde_json::from_str(&self.record.device).unwrap_or_default();
            crate::redact::device(&mut d);
            d.to_string()
        } else {
            self.record.device.to_string()
        };
        SessionRow {
            app: self.folder.clone(),
            id: self.record.id.to_string(),
            status: Some(self.record.status),
            email: self.record.email.as_deref().map(str::to_string),
            device,
            path: root
                .join(&self.folder)
                .join(&self.name)
                .display()
                .to_string(),
            unpushed: self.unpushed,
            invalid: None,
        }
    }
}

/// Whether the `sessions` row of one key carries an unpushed mark.
fn key_unpushed(disk: &DiskView, live: &LiveView, key: &str) -> bool {
    let (folder, id) = split_key(key);
    let l = live.sessions.get(key);
    match disk.get(folder, id).map(|e| &e.state) {
        Some(Ok(rec)) => unpushed_of(l, rec).is_some(),
        Some(Err(_)) | None => l.is_some(),
    }
}

/// Counts `sessions` rows that carry an unpushed mark (O(changes since the
/// last push), except right after a rescan).
pub fn unpushed_count(disk: &DiskView, live: &LiveView) -> u64 {
    if !disk.all_dirty {
        return disk
            .dirty
            .iter()
            .filter(|k| key_unpushed(disk, live, k))
            .count() as u64;
    }
    let mut n = 0u64;
    for (folder, entry) in disk.entries() {
        n += u64::from(key_unpushed(disk, live, &live_key(folder, &entry.name)));
    }
    for key in live.sessions.keys() {
        let (folder, id) = split_key(key);
        n += u64::from(disk.get(folder, id).is_none());
    }
    n
}

/// Applies the disk view to the live view in place, looking only at what
/// changed since the last push (everything after a rescan).
pub fn push_incremental(root: &Path, disk: &mut DiskView, live: &mut LiveView) -> PushReport {
    if disk.all_dirty {
        disk.all_dirty = false;
        disk.dirty.clear();
        return push_all_in_place(root, disk, live);
    }
    let mut report = PushReport::default();
    for key in std::mem::take(&mut disk.dirty) {
        let (folder, id) = split_key(&key);
        let now = disk.get(folder, id).and_then(|e| e.state.as_ref().ok());
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

/// Compares every session (after a rescan). Updates the live map in place,
/// looking keys up through one reused buffer: an unchanged session costs a
/// hash lookup, no allocation.
fn push_all_in_place(root: &Path, disk: &DiskView, live: &mut LiveView) -> PushReport {
    let mut report = PushReport::default();
    let before = live.sessions.len() as u64;
    let mut key = String::with_capacity(128);
    for (folder, app) in &disk.apps {
        for (id_lower, entry) in &app.sessions {
            let Ok(rec) = &entry.state else { continue };
            key.clear();
            key.push_str(folder);
            key.push('/');
            key.push_str(id_lower);
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
                    live.sessions.insert(key.clone(), rec.clone());
                }
            }
        }
    }
    // Live sessions that no valid file matched leave; usually there are none.
    let matched = report.updated + report.unchanged;
    if matched < before {
        live.sessions.retain(|k, _| {
            let (folder, id) = split_key(k);
            disk.get(folder, id).is_some_and(|e| e.state.is_ok())
        });
        report.removed = before - matched;
    }
    report.invalid = disk.invalid_files(root);
    report
}

/// Applies the disk view to a copy of the live view, as `MOBILE APP REFRESH
/// SESSIONS`: valid files replace their live copy, everything else leaves
/// it. The straightforward reference the in-place pushes are tested against.
#[cfg(test)]
pub fn push(root: &Path, disk: &DiskView, live: &LiveView) -> (LiveView, PushReport) {
    let mut report = PushReport::default();
    let mut next = HashMap::with_capacity(live.sessions.len().max(16));
    for (folder, entry) in disk.entries() {
        if let Ok(rec) = &entry.state {
            let key = live_key(folder, &entry.name);
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

/// Number of valid and pending sessions of an app.
pub fn app_counts(app: &AppView) -> (u64, u64) {
    let valid = app.sessions.values().filter_map(|e| e.state.as_ref().ok());
    valid.fold((0, 0), |(n, p), r| {
        (n + 1, p + u64::from(r.status == Status::Pending))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, status: Status, text: &str) -> Arc<SessionRecord> {
        Arc::new(SessionRecord {
            id: id.into(),
            status,
            device_id: None,
            email: None,
            device: "null".into(),
            hash: crate::session::content_hash(text),
        })
    }

    fn entry(id: &str, text: &str) -> DiskEntry {
        DiskEntry {
            name: id.into(),
            state: Ok(rec(id, Status::Accepted, text)),
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
        disk.remove("A", "bbbb");
        disk.insert(
            "A",
            DiskEntry {
                name: "cccc".into(),
                state: Err(Invalid {
                    code: 2,
                    error: "x".into(),
                }),
            },
        );
        disk.insert("A", entry("dddd", "4"));
        let rows = session_rows(&disk, &live);
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
        /// The incremental push gives the full push's answer and live view.
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
                        disk.insert(&f, DiskEntry { name: n.into(), state: Err(Invalid { code: 2, error: "x".into() }) });
                    }
                    Op::Remove(f, i) => {
                        let (f, n) = name(f, i);
                        disk.remove(&f, &n);
                    }
                    Op::Rescan => disk.mark_all_dirty(),
                    Op::Push => {
                        let full_unpushed = {
                            let mut all = disk.clone();
                            all.mark_all_dirty();
                            unpushed_count(&all, &live)
                        };
                        prop_assert_eq!(unpushed_count(&disk, &live), full_unpushed);
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
