//! The `watch` events a change of the disk view produces.

use mobile_session_proto::{Event, EventKind};

use super::view::DiskEntry;

/// created / deleted / changed, by whether the file existed before and after.
pub fn change_event(
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

/// The event (if any) one file's change produces: nothing when its content
/// and validity are the same; `invalid` (with the code) when it is invalid
/// now; `status` when a valid file's status changed; else created, changed
/// or deleted.
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
            ev.code = Some(inv.code());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::session::{Fault, Invalid};
    use crate::model::testgen::record;
    use mobile_session_proto::Status;

    fn entry(status: Status, text: &str) -> DiskEntry {
        DiskEntry {
            name: "abcd".into(),
            state: Ok(record("abcd", status, text)),
        }
    }

    #[test]
    fn kinds() {
        let a = entry(Status::Accepted, "a");
        let p = entry(Status::Pending, "p");
        let bad = DiskEntry {
            name: "abcd".into(),
            state: Err(Invalid::new(Fault::Token, "t")),
        };
        let kind = |b, a| diff_event("F", "abcd", b, a).map(|e| e.kind);
        assert_eq!(kind(None, Some(&a)), Some(EventKind::Created));
        assert_eq!(kind(Some(&a), Some(&a)), None);
        assert_eq!(kind(Some(&a), Some(&p)), Some(EventKind::StatusChanged));
        let edited = entry(Status::Accepted, "b");
        assert_eq!(kind(Some(&a), Some(&edited)), Some(EventKind::Changed));
        assert_eq!(kind(Some(&a), None), Some(EventKind::Deleted));
        let inv = diff_event("F", "abcd", Some(&a), Some(&bad)).unwrap();
        assert_eq!((inv.kind, inv.code), (EventKind::Invalid, Some(4)));
    }
}
