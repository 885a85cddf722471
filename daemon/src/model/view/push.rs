//! The push between the two views — 4D's `MOBILE APP REFRESH SESSIONS` —
//! and the `unpushed` marks that say where they differ. Both cost what
//! changed since the last push, except when too much changed to remember
//! (then every session is compared once).

use std::path::Path;
use std::sync::Arc;

use mobile_session_proto::{PushReport, Unpushed};

use super::{AppView, DiskView, LiveView};
use crate::model::names::{write_key, SessionKey};
use crate::model::session::SessionRecord;

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
        let l = live.get_str(&key);
        n += u64::from(match &entry.state {
            Ok(rec) => unpushed_of(l, rec).is_some(),
            Err(_) => l.is_some(),
        });
    }
    n + live.keys().filter(|k| disk.get(k).is_none()).count() as u64
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
        match (now, live.get_key(&key)) {
            (Some(rec), None) => {
                report.added += 1;
                live.insert(key, rec.clone());
            }
            (Some(rec), Some(old)) => {
                if !old.same_content(rec) {
                    report.updated += 1;
                }
                live.insert(key, rec.clone());
            }
            (None, Some(_)) => {
                report.removed += 1;
                live.remove(&key);
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
    let before = live.len() as u64;
    // Grown once, not doubled step by step (the start fills it from empty).
    live.reserve((disk.valid as usize).saturating_sub(live.len()));
    for (folder, app) in &disk.apps {
        push_app(folder, app, live, &mut report);
    }
    // Live sessions that no valid file matched leave; usually there are none.
    let matched = report.updated + report.unchanged;
    if matched < before {
        live.retain(|k| disk.get(k).is_some_and(|e| e.state.is_ok()));
        report.removed = before - matched;
    }
    report.invalid = disk.invalid_files(root);
    report
}

/// Puts the valid sessions of one app live, counting them in `report`.
/// Keys are written into one reused buffer: an unchanged session costs a
/// hash lookup, no allocation.
fn push_app(folder: &str, app: &AppView, live: &mut LiveView, report: &mut PushReport) {
    let mut key = String::with_capacity(128);
    for (id_lower, entry) in &app.sessions {
        let Ok(rec) = &entry.state else { continue };
        write_key(&mut key, folder, id_lower);
        match live.put(&key, rec.clone()) {
            Some(old) if old.same_content(rec) => report.unchanged += 1,
            Some(_) => report.updated += 1,
            None => report.added += 1,
        }
    }
}

/// The start's push, made one app at a time as the first scan reads the
/// apps, on the thread that applies them while the others are still being
/// read: puts app `folder`'s valid sessions live and returns how many.
/// Call [`pushed_as_read`] once every app is pushed so.
pub fn push_as_read(disk: &DiskView, folder: &str, live: &mut LiveView) -> u64 {
    let mut report = PushReport::default();
    if let Some(app) = disk.app(folder) {
        live.reserve(app.counts().0 as usize);
        push_app(folder, app, live, &mut report);
    }
    report.added + report.updated
}

/// Every app was pushed as it was read ([`push_as_read`]): the two views
/// agree, and nothing is left for the next push.
pub fn pushed_as_read(disk: &mut DiskView) {
    disk.all_dirty = false;
    disk.dirty.clear();
}

/// Applies the disk view to a copy of the live view, the straightforward
/// way: the reference the in-place pushes are tested against.
#[cfg(test)]
pub fn push(root: &Path, disk: &DiskView, live: &LiveView) -> (LiveView, PushReport) {
    let mut report = PushReport::default();
    let mut next = LiveView::default();
    for (folder, entry) in disk.entries() {
        if let Ok(rec) = &entry.state {
            let key = SessionKey::new(folder, &entry.name);
            match live.get_key(&key) {
                None => report.added += 1,
                Some(old) if old.same_content(rec) => report.unchanged += 1,
                Some(_) => report.updated += 1,
            }
            next.insert(key, rec.clone());
        }
    }
    report.invalid = disk.invalid_files(root);
    report.removed = live.keys().filter(|k| !next.contains(k)).count() as u64;
    (next, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testgen::{invalid_entry as invalid, valid_entry as entry};
    use crate::model::view::rows::tests::all_rows;
    use crate::model::view::DIRTY_SLACK;
    use mobile_session_proto::Unpushed;

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
                        // Each app's counts are kept as entries come and go.
                        for app in disk.apps.values() {
                            let valid = app.sessions.values().filter_map(|e| e.state.as_ref().ok());
                            let pending = valid.clone().filter(|r| r.status == mobile_session_proto::Status::Pending).count();
                            prop_assert_eq!(app.counts(), (valid.count() as u64, pending as u64));
                        }
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
                        let mut a: Vec<_> = live.iter().map(|(k, v)| (k.clone(), v.hash)).collect();
                        let mut b: Vec<_> = full_live.iter().map(|(k, v)| (k.clone(), v.hash)).collect();
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
