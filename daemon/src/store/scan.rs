//! Reading session files into disk-view entries: one file, or every file of
//! `MobileApps` on all cores (the start-up scan, `refresh`, `push --full`).
//!
//! A read ends in one of the ways [`FileRead`] names: the file is found
//! (valid, or invalid for its content or a permanent condition such as
//! EACCES or not being a regular file), it is gone, or a *transient* error
//! (out of descriptors, EIO, …) says nothing about it. What the view makes
//! of each is [`crate::model::reconcile`]'s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::model::app::{app_label, AppLabel};
use crate::model::reconcile::{names_the_app, one_name_per_id, FileRead, FolderScan, Scanned};
use crate::model::session::{content_hash, strip_bom, validate, Fault, Invalid};
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

/// Whether the view already holds a valid entry for exactly this content:
/// given the folder, the lower-case id, the file name and the content hash.
/// Such a file is not validated again, and reported as [`Scanned::Same`].
pub type Known<'a> = &'a (dyn Fn(&str, &str, &str, u64) -> bool + Sync);

/// Knows nothing: every file is validated.
#[cfg(test)]
pub fn nothing_known(_: &str, _: &str, _: &str, _: u64) -> bool {
    false
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

/// The entries read from part of one folder, by index in the scan.
struct Slice {
    folder: usize,
    entries: Vec<(String, Scanned)>,
    /// The folder could not be opened for this slice.
    folder_error: Option<StoreError>,
    /// The smallest lower-case id of a valid entry, with its app label.
    label: Option<(String, AppLabel)>,
}

/// Files per unit of work: big enough to amortise opening the folder.
const SLICE: usize = 512;

/// Reads every app folder and session file, on all cores. Each worker takes
/// a slice of one folder, opens the folder once and reads its files
/// relative to it. A file whose content the view already holds (`known`)
/// is reported [`Scanned::Same`], not validated again: a rescan of
/// unchanged files allocates nothing that lasts. Fails only when
/// `MobileApps` itself cannot be listed.
pub fn scan(store: &SessionStore, known: Known<'_>) -> Result<Vec<FolderScan>, StoreError> {
    let mut folders: Vec<FolderScan> = Vec::new();
    let mut names: Vec<Vec<String>> = Vec::new();
    for folder in store.app_folders()? {
        let listed = store.session_names(&folder);
        if matches!(&listed, Err(e) if e.is_not_found()) {
            continue; // gone during the scan: it simply has no sessions
        }
        let manifest_label = store.read_manifest(&folder).as_deref().and_then(app_label);
        let (entries, list, shadowed) = match listed {
            Ok(list) => {
                let (list, shadowed) = one_name_per_id(list);
                (Ok(Vec::with_capacity(list.len())), list, shadowed)
            }
            Err(e) => (Err(e.failure()), Vec::new(), Vec::new()),
        };
        folders.push(FolderScan {
            folder,
            entries,
            session_label: None,
            manifest_label,
            shadowed,
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
            .map(|_| s.spawn(|| read_slices(store, &folder_names, &work, &next, known)))
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
        match slice.folder_error {
            // Unreadable since it was listed: its entries are kept whole.
            Some(e) => f.entries = Err(e.failure()),
            None => {
                if let Ok(all) = &mut f.entries {
                    all.extend(slice.entries);
                }
            }
        }
        if let Some((id, label)) = slice.label {
            let best = f.session_label.as_ref().map(|(best, _)| best.as_str());
            if names_the_app(&id, best) {
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
    known: Known<'_>,
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
            folder_error: None,
            label: None,
        };
        let dir = match store.open_folder(folder) {
            Ok(d) => d,
            // Gone since it was listed: it has no files any more.
            Err(e) if e.is_gone() => {
                out.push(slice);
                continue;
            }
            // Unreadable since it was listed: nothing is known of its files.
            Err(e) => {
                slice.folder_error = Some(e);
                out.push(slice);
                continue;
            }
        };
        for n in names {
            let key = n.to_ascii_lowercase();
            // Only a valid file that would name the app is asked for its
            // label: a few per slice.
            let want = names_the_app(&key, slice.label.as_ref().map(|(id, _)| id.as_str()));
            let read = match store.read_in(&dir, folder, n) {
                // `validate` hashes the text after its BOM; so must this.
                Ok(file) if known(folder, &key, n, content_hash(strip_bom(&file.bytes))) => {
                    slice.entries.push((key, Scanned::Same));
                    continue;
                }
                Ok(file) => classify(folder, n, Ok(&file.bytes), want),
                Err(e) => classify(folder, n, Err(e), want),
            };
            let found = match read {
                FileRead::Found(entry, label) => {
                    if let Some(label) = label {
                        slice.label = Some((key.clone(), label));
                    }
                    Scanned::Read(entry)
                }
                FileRead::Gone => continue,
                FileRead::Writing => Scanned::Same,
                FileRead::Transient(failure) | FileRead::FolderUnreadable(failure) => {
                    Scanned::Transient {
                        name: n.clone(),
                        failure,
                    }
                }
            };
            slice.entries.push((key, found));
        }
        out.push(slice);
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
        let scanned = scan(&store, &nothing_known).unwrap();
        assert_eq!(scanned.len(), 1);
        let f = &scanned[0];
        let entries = f.entries.as_ref().unwrap();
        assert_eq!(entries.len(), 1201);
        let valid = |(_, e): &&(String, Scanned)| matches!(e, Scanned::Read(d) if d.state.is_ok());
        assert_eq!(entries.iter().filter(valid).count(), 1200);
        // What the caller knows is not read again.
        let known = |_: &str, id: &str, _: &str, _: u64| id != "ffff";
        let again = scan(&store, &known).unwrap();
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
}
