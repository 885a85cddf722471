//! The rules without a file system: reads are given as values.

use std::cell::RefCell;
use std::collections::BTreeSet;

use mobile_session_proto::{Event, EventKind, Status};
use proptest::prelude::*;

use super::*;
use crate::model::names::SessionKey;
use crate::model::testgen::{invalid_entry, record, valid_entry};
use crate::model::view::DiskView;

const F: &str = "com.a";

fn label(name: &str) -> AppLabel {
    AppLabel {
        app_id: F.into(),
        name: Some(name.into()),
        team_id: None,
    }
}

/// A valid file `name` whose content (and app name) is `text`.
fn found(name: &str, text: &str) -> FileRead {
    FileRead::Found(valid_entry(name, text), Some(label(text)))
}

fn failure(transient: bool) -> Failure {
    Failure {
        transient,
        message: "EMFILE".into(),
    }
}

thread_local! {
    /// The events sent during the current step (each test is one thread).
    static EVENTS: RefCell<Vec<(EventKind, String)>> = const { RefCell::new(Vec::new()) };
}

fn collect(ev: Event) {
    let id = ev.id.clone().unwrap_or_default();
    EVENTS.with(|e| e.borrow_mut().push((ev.kind, id)));
}

static SINK: fn(Event) = collect;

/// What one step of reconciling asked for, and the events it sent.
struct Asked {
    events: Vec<(EventKind, String)>,
    fx: Effects<'static>,
}

fn step(f: impl FnOnce(&mut Effects<'static>)) -> Asked {
    EVENTS.with(|e| e.borrow_mut().clear());
    let mut fx = Effects::new(Some(&SINK));
    f(&mut fx);
    Asked {
        events: EVENTS.with(|e| e.take()),
        fx,
    }
}

fn read(view: &mut DiskView, name: &str, what: FileRead) -> Asked {
    step(|fx| file_read(view, F, name, what, fx))
}

fn named_by(view: &DiskView) -> Option<(String, Option<String>)> {
    let (id, l) = view.app(F)?.meta.session_label.clone()?;
    Some((id, l.name))
}

fn file(folder: &str, name: &str) -> Retry {
    Retry::File(folder.into(), name.into())
}

fn kinds(a: &Asked) -> Vec<(EventKind, &str)> {
    a.events.iter().map(|(k, id)| (*k, id.as_str())).collect()
}

#[test]
fn one_name_stands_for_ids_that_differ_in_case() {
    let names = ["abcd", "ABCE", "ABCD", "AbCd", "ffff"]
        .map(String::from)
        .to_vec();
    let (kept, shadowed) = one_name_per_id(names);
    assert_eq!(kept, ["ABCD", "ABCE", "ffff"]);
    assert_eq!(shadowed, ["AbCd", "abcd"]);
}

#[test]
fn the_smallest_id_names_the_app() {
    assert!(names_the_app("0001", None));
    assert!(names_the_app("0001", Some("0002")));
    // The same session read again brings its newer label.
    assert!(names_the_app("0002", Some("0002")));
    assert!(!names_the_app("0003", Some("0002")));
}

proptest! {
    /// The session `label_source` picks is the one `names_the_app` prefers
    /// over every other valid one.
    #[test]
    fn the_label_source_is_the_one_names_the_app_prefers(
        files in proptest::collection::btree_map("[0-9a-f]{1,3}", any::<bool>(), 0..12)
    ) {
        let mut view = DiskView::default();
        for (id, valid) in &files {
            let e = if *valid { valid_entry(id, id) } else { invalid_entry(id) };
            view.insert(F, e);
        }
        let preferred = files
            .iter()
            .filter(|(_, valid)| **valid)
            .map(|(id, _)| id.as_str())
            .fold(None, |best, id| if names_the_app(id, best) { Some(id) } else { best });
        let source = view.app(F).and_then(label_source).map(|(id, _)| id);
        prop_assert_eq!(source, preferred);
    }
}

#[test]
fn a_read_replaces_the_entry_and_says_what_changed() {
    let mut view = DiskView::default();
    let a = read(&mut view, "abcd", found("abcd", "A"));
    assert_eq!(kinds(&a), [(EventKind::Created, "abcd")]);
    assert_eq!(a.fx.forget, [file(F, "abcd")]);
    assert_eq!(named_by(&view), Some(("abcd".into(), Some("A".into()))));
    // The same content again: nothing to say.
    assert!(read(&mut view, "abcd", found("abcd", "A"))
        .events
        .is_empty());
    let pending = DiskEntry {
        name: "abcd".into(),
        state: Ok(record("abcd", Status::Pending, "A pending")),
    };
    let a = read(&mut view, "abcd", FileRead::Found(pending, None));
    assert_eq!(kinds(&a), [(EventKind::StatusChanged, "abcd")]);
    let a = read(
        &mut view,
        "abcd",
        FileRead::Found(invalid_entry("abcd"), None),
    );
    assert_eq!(kinds(&a), [(EventKind::Invalid, "abcd")]);
    assert_eq!(view.invalid_count(), 1);
    let a = read(&mut view, "abcd", FileRead::Gone);
    assert_eq!(kinds(&a), [(EventKind::Deleted, "abcd")]);
    assert!(view.get(&SessionKey::new(F, "abcd")).is_none());
}

#[test]
fn a_transient_error_keeps_the_last_good_reading_and_is_retried() {
    let mut view = DiskView::default();
    read(&mut view, "abcd", found("abcd", "A"));
    let a = read(&mut view, "abcd", FileRead::Transient(failure(true)));
    assert!(view
        .get(&SessionKey::new(F, "abcd"))
        .is_some_and(|e| e.state.is_ok()));
    assert!(a.events.is_empty() && a.fx.forget.is_empty());
    assert_eq!(
        (a.fx.read_errors, a.fx.schedule),
        (1, vec![file(F, "abcd")])
    );
    assert!(matches!(&a.fx.notes[..], [Note::Transient { name, .. }] if name == "abcd"));
    // The same in a scan.
    let scan = FolderScan {
        folder: F.into(),
        entries: Ok(vec![(
            "abcd".into(),
            Scanned::Transient {
                name: "abcd".into(),
                failure: failure(true),
            },
        )]),
        session_label: None,
        manifest_label: None,
        shadowed: Vec::new(),
    };
    let a = step(|fx| rescan(&mut view, vec![scan], fx));
    assert!(view
        .get(&SessionKey::new(F, "abcd"))
        .is_some_and(|e| e.state.is_ok()));
    assert!(a.events.is_empty() && a.fx.only_scheduled);
    assert_eq!(
        (a.fx.read_errors, a.fx.schedule),
        (1, vec![file(F, "abcd")])
    );
}

#[test]
fn a_folder_that_cannot_be_opened_keeps_its_entries() {
    let mut view = DiskView::default();
    read(&mut view, "abcd", found("abcd", "A"));
    let a = read(&mut view, "beef", FileRead::FolderUnreadable(failure(true)));
    assert!(view.app(F).is_some_and(|app| app.meta.unreadable));
    assert_eq!(view.valid_count(), 1);
    assert_eq!(a.fx.schedule, [Retry::Folder(F.into())]);
    assert!(matches!(&a.fx.notes[..], [Note::FolderUnreadable { .. }]));
    // Said once; a permanent error is not retried (the watcher sees a fix).
    let a = step(|fx| folder_unreadable(&mut view, F, failure(false), fx));
    assert!(a.fx.notes.is_empty() && a.fx.schedule.is_empty());
    assert_eq!(a.fx.forget, [Retry::Folder(F.into())]);
    // Listed again: readable, said so.
    let a = step(|fx| {
        folder_listed(&mut view, F, None, vec!["abcd".into()], fx);
    });
    assert!(view.app(F).is_some_and(|app| !app.meta.unreadable));
    assert!(matches!(&a.fx.notes[..], [Note::FolderReadable { .. }]));
}

#[test]
fn a_gone_folder_takes_its_entries_with_it() {
    let mut view = DiskView::default();
    read(&mut view, "abcd", found("abcd", "A"));
    read(
        &mut view,
        "beef",
        FileRead::Found(invalid_entry("beef"), None),
    );
    step(|fx| file_read(&mut view, "com.b", "cafe", found("cafe", "B"), fx));
    let a = step(|fx| folder_gone(&mut view, F, fx));
    let mut gone = kinds(&a);
    gone.sort_by_key(|(_, id)| id.to_string());
    assert_eq!(
        gone,
        [(EventKind::Deleted, "abcd"), (EventKind::Deleted, "beef")]
    );
    assert_eq!(a.fx.forget, [Retry::Folder(F.into())]);
    assert!(view.app(F).is_none());
    assert_eq!((view.valid_count(), view.invalid_count()), (1, 0));
    // A rescan that no longer finds a folder says the same.
    let a = step(|fx| rescan(&mut view, Vec::new(), fx));
    assert_eq!(kinds(&a), [(EventKind::Deleted, "cafe")]);
}

#[test]
fn the_name_that_sorts_first_stands_and_a_shadowed_one_takes_over() {
    let mut view = DiskView::default();
    read(&mut view, "abcd", found("abcd", "A"));
    // `ABCD` sorts first: it is read, and takes the session over.
    assert_eq!(standing_rival(&view, F, "ABCD"), None);
    read(&mut view, "ABCD", found("ABCD", "A2"));
    let app = view.app(F).unwrap();
    assert_eq!(&*app.sessions["abcd"].name, "ABCD");
    assert!(app.meta.shadowed.contains("abcd"));
    // `abcd` is not read while `ABCD` exists.
    assert_eq!(standing_rival(&view, F, "abcd"), Some("ABCD"));
    let a = step(|fx| shadowed(&mut view, F, "abcd", "ABCD", true, fx));
    assert!(a.events.is_empty());
    assert!(matches!(&a.fx.notes[..], [Note::Shadowed { by, .. }] if by == "ABCD"));
    // `ABCD` goes: `abcd` is read to take over.
    let a = read(&mut view, "ABCD", FileRead::Gone);
    assert_eq!(kinds(&a), [(EventKind::Deleted, "ABCD")]);
    assert_eq!(
        a.fx.follow_ups,
        [FollowUp::Read {
            folder: F.into(),
            name: "abcd".into()
        }]
    );
    read(&mut view, "abcd", found("abcd", "A"));
    assert_eq!(&*view.app(F).unwrap().sessions["abcd"].name, "abcd");
    assert!(view.app(F).unwrap().meta.shadowed.is_empty());
}

#[test]
fn the_label_follows_the_smallest_valid_session() {
    let mut view = DiskView::default();
    read(&mut view, "0002", found("0002", "B"));
    read(&mut view, "0003", found("0003", "C"));
    assert_eq!(named_by(&view), Some(("0002".into(), Some("B".into()))));
    read(&mut view, "0001", found("0001", "A"));
    assert_eq!(named_by(&view), Some(("0001".into(), Some("A".into()))));
    // A newer reading of the same session renames the app.
    read(&mut view, "0001", found("0001", "A2"));
    assert_eq!(named_by(&view), Some(("0001".into(), Some("A2".into()))));
    // It turns invalid: the next one is asked.
    let a = read(
        &mut view,
        "0001",
        FileRead::Found(invalid_entry("0001"), None),
    );
    assert_eq!(named_by(&view), None);
    let next = FollowUp::Label {
        folder: F.into(),
        id: "0002".into(),
        name: "0002".into(),
    };
    assert_eq!(a.fx.follow_ups, [next]);
    // What a session no longer valid says is not taken.
    label_read(&mut view, F, "0001", label("stale"));
    assert_eq!(named_by(&view), None);
    label_read(&mut view, F, "0002", label("B"));
    assert_eq!(named_by(&view), Some(("0002".into(), Some("B".into()))));
    // A larger id does not rename it.
    read(&mut view, "0003", found("0003", "C2"));
    assert_eq!(named_by(&view), Some(("0002".into(), Some("B".into()))));
}

#[test]
fn a_scan_updates_the_view_in_place_and_keeps_the_label_right() {
    let mut view = DiskView::default();
    for (id, name) in [("aaaa", "A"), ("bbbb", "B"), ("cccc", "C")] {
        read(&mut view, id, found(id, name));
    }
    let scan = FolderScan {
        folder: F.into(),
        entries: Ok(vec![
            ("bbbb".into(), Scanned::Same),
            ("aaaa".into(), Scanned::Read(invalid_entry("aaaa"))),
            ("dddd".into(), Scanned::Read(valid_entry("dddd", "D"))),
        ]),
        // The smallest valid file read: not the smallest valid one.
        session_label: Some(("dddd".into(), label("D"))),
        manifest_label: Some(label("Manifest")),
        shadowed: vec!["DdDd".into()],
    };
    let a = step(|fx| rescan(&mut view, vec![scan], fx));
    let mut events = kinds(&a);
    events.sort_by_key(|(_, id)| id.to_string());
    assert_eq!(
        events,
        [
            (EventKind::Invalid, "aaaa"),
            (EventKind::Deleted, "cccc"),
            (EventKind::Created, "dddd")
        ]
    );
    assert!(matches!(&a.fx.notes[..], [Note::CaseClash { name, .. }] if name == "DdDd"));
    let app = view.app(F).unwrap();
    assert!(app.meta.shadowed.contains("DdDd"));
    assert_eq!(app.meta.manifest_label, Some(label("Manifest")));
    // `bbbb` (unchanged, valid, smallest) names the app: it is asked.
    let next = FollowUp::Label {
        folder: F.into(),
        id: "bbbb".into(),
        name: "bbbb".into(),
    };
    assert_eq!(a.fx.follow_ups, [next]);
}

#[test]
fn a_listing_says_what_to_read() {
    let mut view = DiskView::default();
    read(&mut view, "ffff", found("ffff", "F"));
    let names = ["abcd", "eeee", "ABCD"].map(String::from).to_vec();
    let mut to_read = Vec::new();
    let a = step(|fx| to_read = folder_listed(&mut view, F, Some(label("M")), names, fx));
    // Those that stand, then those no longer listed.
    assert_eq!(to_read, ["ABCD", "eeee", "ffff"]);
    assert_eq!(a.fx.forget, [Retry::Folder(F.into())]);
    let app = view.app(F).unwrap();
    assert!(app.meta.shadowed.contains("abcd"));
    assert_eq!(app.meta.manifest_label, Some(label("M")));
}

#[test]
fn without_a_listener_no_event_is_built() {
    let mut view = DiskView::default();
    let mut fx = Effects::new(None);
    fx.emit(|| unreachable!("built for nobody"));
    file_read(&mut view, F, "abcd", found("abcd", "A"), &mut fx);
    folder_gone(&mut view, F, &mut fx);
    assert!(view.app(F).is_none());
}

/// The disk view the core builds from one file's reports: a rival is
/// checked on "disk" before the file is read, and follow-ups are read.
fn refresh(view: &mut DiskView, disk: &BTreeSet<String>, name: &str) {
    let mut queue = vec![name.to_string()];
    while let Some(name) = queue.pop() {
        let rival = standing_rival(view, F, &name)
            .map(str::to_string)
            .filter(|r| disk.contains(r));
        let a = step(|fx| match rival {
            Some(by) => shadowed(view, F, &name, &by, disk.contains(&name), fx),
            None => {
                let read = if disk.contains(&name) {
                    FileRead::Found(valid_entry(&name, &name), None)
                } else {
                    FileRead::Gone
                };
                file_read(view, F, &name, read, fx);
            }
        });
        for f in a.fx.follow_ups {
            if let FollowUp::Read { name, .. } = f {
                queue.push(name);
            }
        }
    }
}

/// The disk view a scan of `disk` builds.
fn scanned(disk: &BTreeSet<String>) -> DiskView {
    let (kept, shadowed) = one_name_per_id(disk.iter().cloned().collect());
    let entries = kept
        .iter()
        .map(|n| (n.to_ascii_lowercase(), Scanned::Read(valid_entry(n, n))))
        .collect();
    let mut view = DiskView::default();
    let scan = FolderScan {
        folder: F.into(),
        entries: Ok(entries),
        session_label: None,
        manifest_label: None,
        shadowed,
    };
    step(|fx| folder_scanned(&mut view, scan, fx));
    view
}

/// Which name stands for each id, and which are shadowed.
fn standing(view: &DiskView) -> (Vec<(String, String)>, BTreeSet<String>) {
    let Some(app) = view.app(F) else {
        return Default::default();
    };
    let names = app
        .sessions
        .iter()
        .map(|(id, e)| (id.clone(), e.name.to_string()))
        .collect();
    (names, app.meta.shadowed.clone())
}

proptest! {
    /// Files that differ only in case come and go in batches; the files a
    /// batch touched are read again in any order. The view then says what
    /// a scan of the folder says: the case rule is one rule.
    #[test]
    fn reading_files_one_by_one_agrees_with_a_scan(
        batches in proptest::collection::vec(
            proptest::collection::vec((0..2usize, 0..4u8, any::<bool>()), 1..5),
            1..12,
        ),
        order in any::<u64>(),
    ) {
        let mut disk = BTreeSet::new();
        let mut view = DiskView::default();
        for batch in batches {
            let mut touched = Vec::new();
            for (id, case, create) in batch {
                let name: String = ["ab", "cd"][id]
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if case >> i & 1 == 1 { c.to_ascii_uppercase() } else { c })
                    .collect();
                if create {
                    disk.insert(name.clone());
                } else {
                    disk.remove(&name);
                }
                if !touched.contains(&name) {
                    touched.push(name);
                }
            }
            let n = touched.len();
            touched.rotate_left(order as usize % n);
            if order & 1 == 1 {
                touched.reverse();
            }
            for name in &touched {
                refresh(&mut view, &disk, name);
            }
            prop_assert_eq!(standing(&view), standing(&scanned(&disk)), "disk {:?}", disk);
        }
    }
}

#[test]
fn a_held_new_file_does_not_hide_a_file_gone_from_a_scan() {
    let mut view = DiskView::default();
    for id in ["aaaa", "bbbb"] {
        read(&mut view, id, found(id, id));
    }
    // `bbbb` was deleted; `cccc`, new, is being written (held: `Same`,
    // though the view has no entry of it).
    let scan = FolderScan {
        folder: F.into(),
        entries: Ok(vec![
            ("aaaa".into(), Scanned::Same),
            ("cccc".into(), Scanned::Same),
        ]),
        session_label: None,
        manifest_label: None,
        shadowed: Vec::new(),
    };
    let a = step(|fx| rescan(&mut view, vec![scan], fx));
    assert_eq!(kinds(&a), [(EventKind::Deleted, "bbbb")]);
    assert!(view.get(&SessionKey::new(F, "bbbb")).is_none());
    assert!(view.get(&SessionKey::new(F, "cccc")).is_none());
    assert!(view.get(&SessionKey::new(F, "aaaa")).is_some());
}
