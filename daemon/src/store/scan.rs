//! Reading session files into disk-view entries: one file, or every file of
//! `MobileApps` on all cores (the start-up scan, `refresh`, `push --full`).
//!
//! A read ends in one of three ways ([`EntryRead`]): the file is found
//! (valid, or invalid for its content or a permanent condition such as
//! EACCES or not being a regular file), it is gone, or a *transient* error
//! (out of descriptors, EIO, …) says nothing about it — then the caller
//! keeps what it knew and tries again later, instead of dropping a live
//! session for a hiccup.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::model::app::{app_label, AppLabel};
use crate::model::session::{validate, Fault, Invalid};
use crate::model::view::DiskEntry;

use super::{SessionStore, StoreError};

/// The outcome of reading one session file.
#[derive(Debug)]
pub enum EntryRead {
    /// The file's entry; for a valid file, also what it says of its app.
    Found(DiskEntry, Option<AppLabel>),
    /// No such file (any more).
    Gone,
    /// A transient error: keep the last reading and retry.
    Transient(StoreError),
}

/// Reads and validates one file.
pub fn read_entry(store: &SessionStore, folder: &str, name: &str) -> EntryRead {
    match store.open_folder(folder) {
        Ok(dir) => read_entry_in(store, &dir, folder, name),
        Err(e) => classify(folder, name, Err(e), false),
    }
}

/// Reads and validates one file of a folder opened with `open_folder`.
/// `want_label`: also read what a valid file says of its app.
fn read_entry_in_with(
    store: &SessionStore,
    dir: &OwnedFd,
    folder: &str,
    name: &str,
    want_label: bool,
) -> EntryRead {
    classify(
        folder,
        name,
        store.read_in(dir, folder, name).map(|f| f.bytes),
        want_label,
    )
}

pub fn read_entry_in(store: &SessionStore, dir: &OwnedFd, folder: &str, name: &str) -> EntryRead {
    read_entry_in_with(store, dir, folder, name, true)
}

fn classify(
    folder: &str,
    name: &str,
    read: Result<Vec<u8>, StoreError>,
    want_label: bool,
) -> EntryRead {
    let (state, label) = match read {
        Ok(bytes) => match validate(folder, name, &bytes) {
            Ok(rec) => (
                Ok(Arc::new(rec)),
                if want_label { app_label(&bytes) } else { None },
            ),
            Err(inv) => (Err(inv), None),
        },
        Err(e) if e.is_not_found() => return EntryRead::Gone,
        Err(e) if e.is_transient() => return EntryRead::Transient(e),
        Err(e) => (
            Err(Invalid::new(Fault::Json, format!("cannot be read: {e}"))),
            None,
        ),
    };
    EntryRead::Found(
        DiskEntry {
            name: name.into(),
            state,
        },
        label,
    )
}

/// One app folder as a scan found it.
#[derive(Debug)]
pub struct ScannedFolder {
    pub folder: String,
    /// Keyed by lower-case id. `Err` when the folder could not be listed
    /// (permissions, a transient error): its last known entries are kept.
    pub entries: Result<BTreeMap<String, DiskEntry>, StoreError>,
    /// Files that hit a transient error: their last reading is kept.
    pub transient: Vec<(String, StoreError)>,
    /// What the valid session with the smallest (lower-case) id says of its
    /// app, with that id.
    pub session_label: Option<(String, AppLabel)>,
    pub manifest_label: Option<AppLabel>,
}

/// The entries read from part of one folder, by index in the scan.
struct Slice {
    folder: usize,
    entries: Vec<(String, DiskEntry)>,
    transient: Vec<(String, StoreError)>,
    /// The smallest lower-case id of a valid entry, with its app label.
    label: Option<(String, AppLabel)>,
}

/// Files per unit of work: big enough to amortise opening the folder.
const SLICE: usize = 512;

/// Reads every app folder and session file, on all cores. Each worker takes
/// a slice of one folder, opens the folder once and reads its files
/// relative to it. Fails only when `MobileApps` itself cannot be listed.
pub fn scan(store: &SessionStore) -> Result<Vec<ScannedFolder>, StoreError> {
    let mut folders: Vec<ScannedFolder> = Vec::new();
    let mut names: Vec<Vec<String>> = Vec::new();
    for folder in store.app_folders()? {
        let listed = store.session_names(&folder);
        if matches!(&listed, Err(e) if e.is_not_found()) {
            continue; // gone during the scan: it simply has no sessions
        }
        let manifest_label = store.read_manifest(&folder).as_deref().and_then(app_label);
        let (entries, list) = match listed {
            Ok(list) => (Ok(BTreeMap::new()), list),
            Err(e) => (Err(e), Vec::new()),
        };
        folders.push(ScannedFolder {
            folder,
            entries,
            transient: Vec::new(),
            session_label: None,
            manifest_label,
        });
        names.push(list);
    }
    let work: Vec<(usize, &[String])> = names
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.chunks(SLICE).map(move |c| (i, c)))
        .collect();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(work.len().max(1));
    let folder_names: Vec<&str> = folders.iter().map(|f| f.folder.as_str()).collect();
    let slices: Vec<Slice> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| read_slices(store, &folder_names, &work, &next)))
            .collect();
        let mut all = Vec::new();
        for w in workers {
            match w.join() {
                Ok(part) => all.extend(part),
                // Re-raise a worker's panic as the caller's own, as it is.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    for slice in slices {
        let f = &mut folders[slice.folder];
        if let Ok(map) = &mut f.entries {
            map.extend(slice.entries);
        }
        f.transient.extend(slice.transient);
        if let Some((id, label)) = slice.label {
            if f.session_label.as_ref().is_none_or(|(best, _)| id < *best) {
                f.session_label = Some((id, label));
            }
        }
    }
    Ok(folders)
}

fn read_slices(
    store: &SessionStore,
    folders: &[&str],
    work: &[(usize, &[String])],
    next: &AtomicUsize,
) -> Vec<Slice> {
    let mut out = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&(f, names)) = work.get(i) else {
            return out;
        };
        let folder = folders[f];
        let mut slice = Slice {
            folder: f,
            entries: Vec::with_capacity(names.len()),
            transient: Vec::new(),
            label: None,
        };
        let dir = match store.open_folder(folder) {
            Ok(d) => d,
            Err(e) => {
                // The folder went away or became unreadable since it was listed.
                for n in names {
                    match classify(folder, n, Err(clone_error(&e)), false) {
                        EntryRead::Found(entry, _) => {
                            slice.entries.push((n.to_ascii_lowercase(), entry))
                        }
                        EntryRead::Gone => {}
                        EntryRead::Transient(e) => slice.transient.push((n.clone(), e)),
                    }
                }
                out.push(slice);
                continue;
            }
        };
        for n in names {
            let key = n.to_ascii_lowercase();
            // Only a valid file that would be the folder's new smallest id
            // is asked for its app label: a few per slice.
            let want = slice.label.as_ref().is_none_or(|(id, _)| key < *id);
            match read_entry_in_with(store, &dir, folder, n, want) {
                EntryRead::Found(entry, label) => {
                    if let Some(label) = label {
                        slice.label = Some((key.clone(), label));
                    }
                    slice.entries.push((key, entry));
                }
                EntryRead::Gone => {}
                EntryRead::Transient(e) => slice.transient.push((n.clone(), e)),
            }
        }
        out.push(slice);
    }
}

/// `StoreError` holds an `io::Error`, which is not `Clone`: rebuild it.
fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io { path, source } => StoreError::Io {
            path: path.clone(),
            source: match source.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::new(source.kind(), source.to_string()),
            },
        },
        StoreError::BadName(n) => StoreError::BadName(n.clone()),
        StoreError::NotRegular { path } => StoreError::NotRegular { path: path.clone() },
        StoreError::TooLarge { path } => StoreError::TooLarge { path: path.clone() },
        StoreError::Exists { path } => StoreError::Exists { path: path.clone() },
        StoreError::Changed { path } => StoreError::Changed { path: path.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let scanned = scan(&store).unwrap();
        assert_eq!(scanned.len(), 1);
        let f = &scanned[0];
        let entries = f.entries.as_ref().unwrap();
        assert_eq!(entries.len(), 1201);
        assert_eq!(entries.values().filter(|e| e.state.is_ok()).count(), 1200);
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
}
