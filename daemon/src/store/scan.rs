//! Reading session files into disk-view entries: one file, or every file of
//! `MobileApps` on all cores (the start-up scan, `refresh`, `push --full`).
//!
//! A read ends in one of the ways [`FileRead`] names: the file is found
//! (valid, or invalid for its content or a permanent condition such as
//! EACCES or not being a regular file), it is gone, or a *transient* error
//! (out of descriptors, EIO, …) says nothing about it. What the view makes
//! of each is [`crate::model::reconcile`]'s.

use std::sync::Arc;

use crate::model::app::app_label;
use crate::model::reconcile::FileRead;
#[cfg(doc)]
use crate::model::reconcile::Scanned;
use crate::model::session::{validate, Fault, Invalid};
use crate::model::view::DiskEntry;

use super::{SessionStore, StoreError};

/// Reads and validates one file.
pub fn read_entry(store: &SessionStore, folder: &str, name: &str) -> FileRead {
    let dir = match store.open_folder(folder) {
        Ok(dir) => dir,
        // No file of ours there.
        Err(e) if e.is_gone() => return FileRead::Gone,
        Err(e) => return FileRead::FolderUnreadable(e.failure()),
    };
    match store.read_in(&dir, folder, name) {
        Ok(file) => classify(folder, name, Ok(&file.bytes), true),
        Err(e) => classify(folder, name, Err(e), true),
    }
}

/// What a file we have just written reads as: its bytes are at hand.
pub fn written(folder: &str, name: &str, bytes: &[u8]) -> FileRead {
    classify(folder, name, Ok(bytes), true)
}

/// One file a scan read, as the view is asked about it: its lower-case
/// id, its name on disk and the hash of its content.
pub struct Probe<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hash: u64,
}

/// Tells, for the files of one folder (`probes`), whether the view already
/// holds a valid entry of exactly that content: `same` gets one answer per
/// probe. Such a file is not validated again, and reported as
/// [`Scanned::Same`]. Asked once per slice of files, so the view's lock is
/// taken once for hundreds of files.
pub type Known<'a> = &'a (dyn Fn(&str, &[Probe<'_>], &mut Vec<bool>) + Sync);

/// Knows nothing: every file is validated.
#[cfg(test)]
pub fn nothing_known(_: &str, probes: &[Probe<'_>], same: &mut Vec<bool>) {
    same.clear();
    same.resize(probes.len(), false);
}

fn classify(
    folder: &str,
    name: &str,
    read: Result<&[u8], StoreError>,
    want_label: bool,
) -> FileRead {
    let (state, label) = match read {
        Ok(bytes) => match validate(folder, name, bytes) {
            Ok(rec) => (
                Ok(Arc::new(rec)),
                if want_label { app_label(bytes) } else { None },
            ),
            Err(inv) => (Err(inv), None),
        },
        Err(e) if e.is_not_found() => return FileRead::Gone,
        Err(e) if e.is_transient() => return FileRead::Transient(e.failure()),
        Err(e) => (
            Err(Invalid::new(Fault::Json, format!("cannot be read: {e}"))),
            None,
        ),
    };
    FileRead::Found(
        DiskEntry {
            name: name.into(),
            state,
        },
        label,
    )
}

mod work;

pub use work::{scan, ScanDone};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reconcile::{FolderScan, Scanned};

    fn scan_all(store: &SessionStore, temps: bool, known: Known<'_>) -> (Vec<FolderScan>, usize) {
        let mut out = Vec::new();
        let done = scan(store, temps, known, &mut |f| out.push(f)).unwrap();
        out.sort_by(|a, b| a.folder.cmp(&b.folder));
        (out, done.temps_removed)
    }

    #[test]
    fn scan_reads_every_folder_and_labels_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path()).unwrap();
        let folder = "com.a";
        std::fs::create_dir(store.root().join(folder)).unwrap();
        for i in 0..1200u32 {
            let id = format!("{i:08x}");
            let token = crate::model::token::encode("com.a", &id, None);
            let doc = serde_json::json!({
                "application": {"id": "com.a", "name": format!("A{i}")},
                "session": {"id": id}, "status": "accepted", "token": token,
            });
            std::fs::write(store.session_path(folder, &id), doc.to_string()).unwrap();
        }
        std::fs::write(store.session_path(folder, "ffff"), "{").unwrap();
        std::fs::write(
            store.root().join(folder).join("manifest.json"),
            r#"{"application":{"id":"com.a","name":"Manifest"}}"#,
        )
        .unwrap();
        // Folders with nothing to read are handed over too.
        std::fs::create_dir(store.root().join("com.empty")).unwrap();
        let (scanned, _) = scan_all(&store, false, &nothing_known);
        assert_eq!(scanned.len(), 2);
        assert_eq!(scanned[1].entries.as_ref().unwrap().len(), 0);
        let f = &scanned[0];
        let entries = f.entries.as_ref().unwrap();
        assert_eq!(entries.len(), 1201);
        let valid = |(_, e): &&(String, Scanned)| matches!(e, Scanned::Read(d) if d.state.is_ok());
        assert_eq!(entries.iter().filter(valid).count(), 1200);
        // What the caller knows is not read again.
        let known = |_: &str, probes: &[Probe<'_>], same: &mut Vec<bool>| {
            same.clear();
            same.extend(probes.iter().map(|p| p.id != "ffff"));
        };
        let (again, _) = scan_all(&store, false, &known);
        let same = again[0].entries.as_ref().unwrap().iter();
        assert_eq!(
            same.filter(|(_, e)| matches!(e, Scanned::Same)).count(),
            1200
        );
        // The smallest id names the app, whatever order the slices ran in.
        let (id, label) = f.session_label.as_ref().unwrap();
        assert_eq!(
            (id.as_str(), label.name.as_deref()),
            ("00000000", Some("A0"))
        );
        assert_eq!(
            f.manifest_label.as_ref().unwrap().name.as_deref(),
            Some("Manifest")
        );
    }

    #[test]
    fn entries_listed_as_other_than_files_are_invalid_and_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path()).unwrap();
        let f = store.root().join("com.a");
        std::fs::create_dir(&f).unwrap();
        // Opening a FIFO for reading would wait for a writer.
        rustix::fs::mkfifoat(rustix::fs::CWD, f.join("abcd"), rustix::fs::Mode::RUSR).unwrap();
        std::fs::create_dir(f.join("beef")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", f.join("cafe")).unwrap();
        let (scanned, _) = scan_all(&store, false, &nothing_known);
        let entries = scanned[0].entries.as_ref().unwrap();
        assert_eq!(entries.len(), 3);
        for (id, e) in entries {
            let Scanned::Read(e) = e else { panic!("{id}") };
            let err = e.state.as_ref().unwrap_err();
            assert!(err.error.contains("not a regular file"), "{id}: {err:?}");
        }
    }

    #[test]
    fn leftover_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path()).unwrap();
        let f = store.root().join("T.com.x");
        std::fs::create_dir(&f).unwrap();
        for n in [
            ".abcd.0123456789ab.tmp",
            "abcd",
            ".abcd.tmp",
            "manifest.json",
            ".other",
        ] {
            std::fs::write(f.join(n), "x").unwrap();
        }
        std::fs::create_dir(f.join(".beef.0123456789ab.tmp")).unwrap();
        // Only when asked (at start, before any write of ours).
        assert_eq!(scan_all(&store, false, &nothing_known).1, 0);
        assert_eq!(scan_all(&store, true, &nothing_known).1, 1);
        let mut left: Vec<String> = std::fs::read_dir(&f)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".abcd.tmp",
                ".beef.0123456789ab.tmp",
                ".other",
                "abcd",
                "manifest.json"
            ]
        );
    }
}
