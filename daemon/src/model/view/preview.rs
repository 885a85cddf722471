//! `push --dry-run`: the report a push would give now, with both views left
//! as they are. It looks at what [`push_incremental`](super::push_incremental)
//! looks at — the keys changed since the last push, or every session when
//! too much changed — so that the push that follows reports the same.

use std::path::Path;
use std::sync::Arc;

use mobile_session_proto::PushReport;

use super::{DiskView, LiveView};
use crate::model::names::{write_key, SessionKey};
use crate::model::session::SessionRecord;

/// Counts one key: its valid disk record now, and its live copy.
fn count(
    report: &mut PushReport,
    now: Option<&Arc<SessionRecord>>,
    live: Option<&Arc<SessionRecord>>,
) {
    match (now, live) {
        (Some(_), None) => report.added += 1,
        (Some(rec), Some(old)) if !old.same_content(rec) => report.updated += 1,
        (Some(_), Some(_)) => report.unchanged += 1,
        (None, Some(_)) => report.removed += 1,
        (None, None) => {}
    }
}

fn valid<'a>(disk: &'a DiskView, key: &SessionKey) -> Option<&'a Arc<SessionRecord>> {
    disk.get(key).and_then(|e| e.state.as_ref().ok())
}

/// What a push would report now.
pub fn preview(root: &Path, disk: &DiskView, live: &LiveView) -> PushReport {
    let mut report = PushReport::default();
    if disk.all_dirty {
        let mut key = String::with_capacity(128);
        for (folder, entry) in disk.entries() {
            if let Ok(rec) = &entry.state {
                write_key(&mut key, folder, &entry.name);
                count(&mut report, Some(rec), live.get_str(&key));
            }
        }
        for (k, rec) in live.iter() {
            if valid(disk, k).is_none() {
                count(&mut report, None, Some(rec));
            }
        }
    } else {
        for key in &disk.dirty {
            count(&mut report, valid(disk, key), live.get_key(key));
        }
        // The keys not changed since the last push are live as they are.
        report.unchanged = disk.valid - report.added - report.updated;
    }
    report.invalid = disk.invalid_files(root);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testgen::{invalid_entry as invalid, valid_entry as entry};
    use crate::model::view::push_incremental;

    #[test]
    fn the_preview_is_what_the_push_then_reports_and_changes_nothing() {
        let root = Path::new("/m");
        let mut disk = DiskView::default();
        let mut live = LiveView::default();
        for i in 0..6u8 {
            disk.insert("A", entry(&format!("{i:04x}"), "1"));
        }
        push_incremental(root, &mut disk, &mut live);
        disk.insert("A", entry("0001", "changed"));
        disk.remove(&SessionKey::new("A", "0002"));
        disk.insert("A", invalid("0003"));
        disk.insert("B", entry("0009", "new"));
        for all in [false, true] {
            let mut d = disk.clone();
            let mut l = live.clone();
            if all {
                d.mark_all_dirty();
            }
            let before = (d.dirty.len(), l.len());
            let p = preview(root, &d, &l);
            assert_eq!(
                before,
                (d.dirty.len(), l.len()),
                "the preview changed a view"
            );
            assert_eq!((p.added, p.updated, p.removed, p.unchanged), (1, 1, 2, 3));
            assert_eq!(
                p,
                push_incremental(root, &mut d, &mut l),
                "all dirty: {all}"
            );
        }
    }
}
