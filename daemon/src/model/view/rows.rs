//! The `sessions` listing, page by page: the rows of the disk view and of
//! the live sessions whose file was deleted, in (folder, id) order.

use std::sync::Arc;

use mobile_session_proto::Unpushed;

use super::push::unpushed_of;
use super::{DiskView, LiveView};
use crate::model::names::SessionKey;
use crate::model::session::{Invalid, SessionRecord};

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
pub(super) mod tests {
    use super::*;
    use crate::model::testgen::{invalid_entry as invalid, valid_entry as entry};
    use crate::model::view::push::push;
    use std::path::Path;

    pub fn all_rows(disk: &DiskView, live: &LiveView, page: usize) -> Vec<RowSource> {
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
}
