//! The core against a real folder: the push barrier seen through a fake,
//! checked rewrites, folders and the counts `status` reads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mobile_session_proto::Status;

use super::*;
use crate::model::names::SessionKey;
use crate::model::token;
use crate::store::WriteMode;

const APP: &str = "com.a";

fn session(id: &str, status: &str, email: &str) -> String {
    serde_json::json!({
        "application": {"id": APP, "name": "A"},
        "email": email,
        "device": {"id": format!("D-{id}")},
        "session": {"id": id},
        "status": status,
        "token": token::encode(APP, id, None),
    })
    .to_string()
}

fn core_with(ids: &[&str]) -> (tempfile::TempDir, Core) {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::open(dir.path()).unwrap();
    std::fs::create_dir(store.root().join(APP)).unwrap();
    for id in ids {
        std::fs::write(store.session_path(APP, id), session(id, "accepted", "")).unwrap();
    }
    let core = Core::open(store, Config::default()).unwrap();
    (dir, core)
}

/// Another writer's atomic replace (a temporary file renamed over). Not an
/// in-place write: on this thread, that would wait on our own lease.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("other-writer");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn write_behind_its_back(core: &Core, id: &str, text: &str) {
    std::fs::write(core.store().session_path(APP, id), text).unwrap();
}

/// A barrier that answers as told and counts its calls.
struct FakeBarrier {
    confirms: AtomicBool,
    calls: AtomicUsize,
}

impl PushBarrier for FakeBarrier {
    fn sync(&self) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.confirms.load(Ordering::Relaxed)
    }
}

#[test]
fn open_scans_and_pushes() {
    let (_d, core) = core_with(&["aaaa", "bbbb"]);
    let c = core.counts();
    assert_eq!((c.live, c.on_disk, c.unpushed, c.invalid), (2, 2, 0, 0));
    assert!(core.read_live(|l| l.get(APP, "AAAA").is_some()));
}

#[test]
fn a_confirming_barrier_spares_the_rescan_and_a_failing_one_does_not() {
    let (_d, core) = core_with(&["aaaa"]);
    let barrier = Arc::new(FakeBarrier {
        confirms: AtomicBool::new(true),
        calls: AtomicUsize::new(0),
    });
    core.set_barrier(Some(barrier.clone()));
    // Nobody reports this file: a barrier that says "current" is believed.
    write_behind_its_back(&core, "cccc", &session("cccc", "accepted", ""));
    let r = core.push(false).unwrap();
    assert_eq!((r.added, barrier.calls.load(Ordering::Relaxed)), (0, 1));
    // One that cannot confirm makes the push read everything.
    barrier.confirms.store(false, Ordering::Relaxed);
    let r = core.push(false).unwrap();
    assert_eq!((r.added, barrier.calls.load(Ordering::Relaxed)), (1, 2));
    // `full` does not even ask.
    write_behind_its_back(&core, "dddd", &session("dddd", "accepted", ""));
    barrier.confirms.store(true, Ordering::Relaxed);
    assert_eq!(core.push(true).unwrap().added, 1);
    assert_eq!(barrier.calls.load(Ordering::Relaxed), 2);
    // Without a barrier, a push rescans.
    core.set_barrier(None);
    write_behind_its_back(&core, "eeee", &session("eeee", "accepted", ""));
    assert_eq!(core.push(false).unwrap().added, 1);
}

#[test]
fn a_txn_keeps_the_disk_view_and_counts_in_step_with_its_writes() {
    let (_d, core) = core_with(&["aaaa"]);
    {
        let mut txn = core.txn();
        txn.write(
            APP,
            "bbbb",
            session("bbbb", "pending", "").as_bytes(),
            WriteMode::Create,
        )
        .unwrap();
        // Seen at once, not live until a push.
        assert!(txn.views(
            |disk, live| disk.get(&SessionKey::new(APP, "bbbb")).is_some()
                && live.get(APP, "bbbb").is_none()
        ));
    }
    assert_eq!(core.counts().unpushed, 1);
    {
        let mut txn = core.txn();
        txn.delete(APP, "aaaa").unwrap();
        assert!(core_entry_gone(&txn, "aaaa"));
    }
    let c = core.counts();
    assert_eq!((c.on_disk, c.unpushed), (1, 2));
    core.txn().push();
    let c = core.counts();
    assert_eq!((c.live, c.unpushed), (1, 0));
}

fn core_entry_gone(txn: &Txn<'_>, id: &str) -> bool {
    txn.views(|disk, _| disk.get(&SessionKey::new(APP, id)).is_none())
}

#[test]
fn a_rewrite_reapplies_its_change_on_top_of_another_writers() {
    let (_d, core) = core_with(&["aaaa"]);
    let path = core.store().session_path(APP, "aaaa");
    let mut attempts = 0;
    let written = core
        .txn()
        .rewrite::<StoreError>(APP, "aaaa", |file| {
            attempts += 1;
            if attempts == 1 {
                // Another writer replaces the file between our read and our rename.
                replace(&path, &session("aaaa", "accepted", "other@example.com"));
            }
            let text = String::from_utf8(file.bytes.clone()).unwrap();
            Ok(Some(
                text.replace("\"accepted\"", "\"pending\"").into_bytes(),
            ))
        })
        .unwrap();
    assert!(written);
    assert_eq!(attempts, 2);
    let now: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(now["email"], "other@example.com", "their change kept");
    assert_eq!(now["status"], "pending", "ours applied on top");
    let rec = core.disk_entry(APP, "aaaa").unwrap().state.unwrap();
    assert_eq!(rec.status, Status::Pending);
}

#[test]
fn a_rewrite_gives_up_on_a_file_that_never_settles() {
    let (_d, core) = core_with(&["aaaa"]);
    let path = core.store().session_path(APP, "aaaa");
    let mut n = 0;
    let r = core.txn().rewrite::<StoreError>(APP, "aaaa", |_| {
        n += 1;
        replace(&path, &session("aaaa", "accepted", &format!("{n}@x")));
        Ok(Some(b"{}".to_vec()))
    });
    assert!(matches!(r, Err(StoreError::Changed { .. })), "{r:?}");
    assert_eq!(n, REWRITE_ATTEMPTS);
    // Nothing of ours was written: the last outside version is there.
    let now: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(now["email"], format!("{n}@x"));
}

#[test]
fn folders_come_and_go_through_the_txn() {
    let (_d, core) = core_with(&["aaaa"]);
    let mut txn = core.txn();
    assert!(txn.ensure_folder("T.com.new").unwrap());
    assert!(txn.views(|disk, _| disk.app("T.com.new").is_some()));
    txn.remove_folder_if_empty("T.com.new").unwrap();
    assert!(txn.views(|disk, _| disk.app("T.com.new").is_none()));
    assert!(!Path::new(&txn.store().root().join("T.com.new")).exists());
    // A folder with a session stays.
    txn.remove_folder_if_empty(APP).unwrap();
    assert!(txn.views(|disk, _| disk.app(APP).is_some()));
}

#[test]
fn make_live_and_drop_live_bypass_the_push() {
    let (_d, core) = core_with(&["aaaa"]);
    let mut txn = core.txn();
    txn.write(
        APP,
        "bbbb",
        session("bbbb", "accepted", "").as_bytes(),
        WriteMode::Create,
    )
    .unwrap();
    txn.make_live(APP, "bbbb", None);
    assert!(txn.views(|_, live| live.get(APP, "bbbb").is_some()));
    assert!(txn.drop_live(APP, "aaaa"));
    assert!(txn.views(|_, live| live.get(APP, "aaaa").is_none()));
}

#[test]
fn a_transient_read_error_keeps_the_last_good_entry_and_is_retried() {
    // A name of its own: the fault applies to every test's reads of it.
    let id = "7e57ee0f";
    let (_d, core) = core_with(&[id]);
    crate::store::faults::set(id, Some(libc::EMFILE));
    write_behind_its_back(&core, id, &session(id, "pending", ""));
    core.txn().refresh_file(APP, id);
    let kept = core.disk_entry(APP, id).unwrap().state.unwrap();
    assert_eq!(kept.status, Status::Accepted, "the last good reading stays");
    assert_eq!(core.stats.read_errors.load(Ordering::Relaxed), 1);
    assert!(core.next_retry().is_some(), "a retry is scheduled");
    // A push that rescans meets the same error: the session stays live.
    let r = core.push(false).unwrap();
    assert_eq!((r.removed, r.invalid.len()), (0, 0));
    assert!(core.read_live(|l| l.get(APP, id).is_some()));
    assert_eq!(core.stats.read_errors.load(Ordering::Relaxed), 2);
    // Once the error passes, the retry reads the file as it is.
    crate::store::faults::set(id, None);
    let due = core.due_retries(Instant::now() + std::time::Duration::from_secs(60));
    assert_eq!(due, vec![Retry::File(APP.into(), id.into())]);
    core.txn().refresh_file(APP, id);
    let now = core.disk_entry(APP, id).unwrap().state.unwrap();
    assert_eq!(now.status, Status::Pending);
    assert!(core.next_retry().is_none());
    // A permanent error (EACCES) does make the file invalid.
    crate::store::faults::set(id, Some(libc::EACCES));
    core.txn().refresh_file(APP, id);
    assert!(core.disk_entry(APP, id).unwrap().state.is_err());
    crate::store::faults::set(id, None);
}

#[test]
fn the_app_label_follows_its_session() {
    let (_d, core) = core_with(&[]);
    let named = |id: &str, name: &str| {
        serde_json::json!({
            "application": {"id": APP, "name": name},
            "session": {"id": id},
            "status": "accepted",
            "token": token::encode(APP, id, None),
        })
        .to_string()
    };
    let label =
        |core: &Core| core.read_views(|disk, _| disk.app(APP).and_then(|a| a.label(APP).name));
    let mut txn = core.txn();
    txn.write(
        APP,
        "aaaa",
        named("aaaa", "First").as_bytes(),
        WriteMode::Create,
    )
    .unwrap();
    txn.write(
        APP,
        "bbbb",
        named("bbbb", "Second").as_bytes(),
        WriteMode::Create,
    )
    .unwrap();
    drop(txn);
    assert_eq!(label(&core).as_deref(), Some("First"));
    // The file that named the app goes: the next one names it.
    core.txn().delete(APP, "aaaa").unwrap();
    assert_eq!(label(&core).as_deref(), Some("Second"));
    // And a rescan agrees.
    core.txn().rescan(false).unwrap();
    assert_eq!(label(&core).as_deref(), Some("Second"));
}

#[test]
fn a_name_differing_in_case_takes_over_when_the_file_standing_for_it_goes() {
    // `ABCD` sorts first and stands for session abcd; `abcd` is ignored.
    let (_d, core) = core_with(&["ABCD", "abcd"]);
    let standing = |core: &Core| {
        core.read_views(|disk, _| {
            disk.get(&SessionKey::new(APP, "abcd"))
                .map(|e| e.name.to_string())
        })
    };
    assert_eq!(standing(&core).as_deref(), Some("ABCD"));
    std::fs::remove_file(core.store().session_path(APP, "ABCD")).unwrap();
    // What the watcher does for the deletion, then a push it vouches for.
    core.txn().refresh_file(APP, "ABCD");
    assert_eq!(standing(&core).as_deref(), Some("abcd"));
    core.txn().push();
    assert!(core.read_live(|l| l.get(APP, "abcd").is_some()));
    // And once both are gone, the session is.
    std::fs::remove_file(core.store().session_path(APP, "abcd")).unwrap();
    core.txn().refresh_file(APP, "abcd");
    assert_eq!(standing(&core), None);
}

#[test]
fn a_folder_sync_keeps_the_name_that_stands_now() {
    let (_d, core) = core_with(&["ABCD", "abcd"]);
    std::fs::remove_file(core.store().session_path(APP, "ABCD")).unwrap();
    // A folder event: `abcd` is listed, `ABCD` is read as gone after it.
    core.txn().sync_folder(APP);
    let name = core.read_views(|disk, _| {
        disk.get(&SessionKey::new(APP, "abcd"))
            .map(|e| e.name.to_string())
    });
    assert_eq!(name.as_deref(), Some("abcd"));
}

/// A writer that truncates a session file in place and keeps it open.
fn truncate_and_keep_open(core: &Core, id: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(core.store().session_path(APP, id))
        .unwrap()
}

#[test]
fn a_file_being_written_keeps_its_last_good_entry_through_reads_and_pushes() {
    let (_d, core) = core_with(&["aaaa", "bbbb"]);
    let writer = truncate_and_keep_open(&core, "aaaa");
    // Read as the watcher reads it, then by a full rescan: held both times.
    for full in [false, true] {
        let mut txn = core.txn();
        if full {
            txn.rescan(false).unwrap();
        } else {
            txn.refresh_file(APP, "aaaa");
        }
        let report = txn.push();
        assert_eq!((report.removed, report.unchanged), (0, 2), "full: {full}");
        assert_eq!(report.writing.len(), 1, "full: {full}");
        assert_eq!(report.writing[0].code, 2);
    }
    assert!(core.disk_entry(APP, "aaaa").unwrap().state.is_ok());
    assert!(core.read_live(|l| l.get(APP, "aaaa").is_some()));
    assert_eq!(core.writing_files().len(), 1);
    // Closed as it is (empty): taken, and the push drops the session.
    drop(writer);
    core.txn().refresh_file(APP, "aaaa");
    assert!(core.disk_entry(APP, "aaaa").unwrap().state.is_err());
    assert!(core.writing_files().is_empty());
    assert_eq!(core.txn().push().removed, 1);
}

#[test]
fn a_file_being_written_is_taken_once_valid_or_without_a_grace() {
    let (_d, core) = core_with(&["aaaa"]);
    // A new file, empty and open: not in the view until it is whole.
    let mut new = std::fs::File::create(core.store().session_path(APP, "cccc")).unwrap();
    core.txn().refresh_file(APP, "cccc");
    assert!(core.disk_entry(APP, "cccc").is_none());
    // Valid content is taken at once, open or not.
    use std::io::Write;
    new.write_all(session("cccc", "pending", "").as_bytes())
        .unwrap();
    core.txn().refresh_file(APP, "cccc");
    assert!(core.disk_entry(APP, "cccc").unwrap().state.is_ok());
    assert!(core.writing_files().is_empty());
    // With no grace, an invalid reading is taken though the writer is there.
    core.set_config(Config {
        write_grace_ms: Some(0),
        ..Config::default()
    });
    let _writer = truncate_and_keep_open(&core, "aaaa");
    core.txn().refresh_file(APP, "aaaa");
    assert!(core.disk_entry(APP, "aaaa").unwrap().state.is_err());
    assert!(core.writing_files().is_empty());
}

/// The live view's content: each key's record as pushed.
fn live_snapshot(core: &Core) -> Vec<(String, String, u64, u64)> {
    let mut v: Vec<_> = core.read_live(|l| {
        l.iter()
            .map(|(k, r)| (k.to_string(), r.id.to_string(), r.hash, r.token_hash))
            .collect()
    });
    v.sort();
    v
}

#[test]
fn the_starts_push_as_read_is_a_full_push_after_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = SessionStore::open(dir.path()).unwrap();
    let doc = |app: &str, id: &str, status: &str| {
        serde_json::json!({
            "application": {"id": app, "name": app},
            "session": {"id": id},
            "status": status,
            "token": token::encode(app, id, None),
        })
        .to_string()
    };
    // Folders of one file, one of more than a slice, invalid files, names
    // differing in case, an empty folder and a stray folder.
    for i in 0..40 {
        let app = format!("com.f{i:02}");
        std::fs::create_dir(store.root().join(&app)).unwrap();
        let id = format!("{i:08x}");
        std::fs::write(store.session_path(&app, &id), doc(&app, &id, "pending")).unwrap();
    }
    std::fs::create_dir(store.root().join(APP)).unwrap();
    for i in 0..1100u32 {
        let id = format!("{i:08x}");
        let text = match i % 50 {
            0 => "{".to_string(),
            1 => doc("com.other", &id, "accepted"),
            _ => doc(APP, &id, "accepted"),
        };
        std::fs::write(store.session_path(APP, &id), text).unwrap();
    }
    std::fs::write(
        store.session_path(APP, "0000000A"),
        doc(APP, "0000000A", "pending"),
    )
    .unwrap();
    std::fs::create_dir(store.root().join("com.empty")).unwrap();
    let core = Core::open(store, Config::default()).unwrap();
    let at_start = (live_snapshot(&core), core.counts());
    assert!(at_start.1.live > 1000, "{:?}", at_start.1);
    assert_eq!(at_start.1.unpushed, 0);
    let report = core.push(true).unwrap();
    assert_eq!(
        (report.added, report.updated, report.removed),
        (0, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.unchanged, at_start.1.live);
    assert_eq!(report.invalid.len() as u64, at_start.1.invalid);
    assert_eq!((live_snapshot(&core), core.counts()), at_start);
}
