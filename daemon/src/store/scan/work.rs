//! The scan's machinery: every app folder listed once, its files read in
//! slices on all cores, and each folder handed over as soon as its last
//! slice is read — while the other folders are still being read — so the
//! caller applies one folder at a time and nothing holds every file's
//! entry at once.
//!
//! Workers take slices from a queue; one lists the next folder when no
//! slice is waiting, so at most one folder per worker is listed ahead.

use std::collections::VecDeque;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use rustix::fs::{self as rfs, AtFlags, FileType};

use super::{classify, Known, Probe};
use crate::locks::lock;
use crate::model::app::{app_label, AppLabel};
use crate::model::names::is_session_name;
use crate::model::reconcile::{names_the_app, one_name_per_id, FileRead, FolderScan, Scanned};
use crate::model::session::{content_hash, strip_bom};
use crate::store::read::read_listed;
use crate::store::{is_write_temp, SessionStore, StoreError};

/// Files per unit of work: enough that the view is asked once for many
/// files, few enough that both cores stay busy to the end of a folder.
const SLICE: usize = 512;

/// What a scan did besides the folders it handed over.
#[derive(Debug, Default)]
pub struct ScanDone {
    /// Temporaries of interrupted writes removed (when asked to).
    pub temps_removed: usize,
}

/// Reads every app folder and session file, on all cores, and hands each
/// folder to `apply` (on the calling thread) once all its files are read.
/// Each folder is listed once (the listing gives each entry's type, so a
/// file is opened without a `stat` first) and opened once; `remove_temps`
/// (at start, before any write of ours) also removes the temporaries that
/// interrupted writes left. A file whose content the view already holds
/// (`known`) is [`Scanned::Same`], not validated again: a rescan of
/// unchanged files allocates nothing that lasts. A folder gone meanwhile is
/// not handed over. Fails only when `MobileApps` itself cannot be listed.
pub fn scan(
    store: &SessionStore,
    remove_temps: bool,
    known: Known<'_>,
    apply: &mut dyn FnMut(FolderScan),
) -> Result<ScanDone, StoreError> {
    let folders = store.app_folders()?;
    let queue = Queue {
        state: Mutex::new(QueueState {
            next_folder: 0,
            listing: 0,
            slices: VecDeque::new(),
        }),
        wake: Condvar::new(),
    };
    let temps = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let ctx = Ctx {
        store,
        folders: &folders,
        queue: &queue,
        known,
        remove_temps,
        temps: &temps,
    };
    let (tx, rx) = mpsc::channel::<FolderScan>();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                let ctx = &ctx;
                s.spawn(move || ctx.work(&tx))
            })
            .collect();
        drop(tx);
        for folder in rx {
            apply(folder);
        }
        for w in workers {
            if let Err(panic) = w.join() {
                // Re-raise a worker's panic as the caller's own, as it is.
                std::panic::resume_unwind(panic);
            }
        }
    });
    Ok(ScanDone {
        temps_removed: temps.into_inner(),
    })
}

/// What every worker shares.
struct Ctx<'a> {
    store: &'a SessionStore,
    folders: &'a [String],
    queue: &'a Queue,
    known: Known<'a>,
    remove_temps: bool,
    temps: &'a AtomicUsize,
}

/// One app folder being read.
struct Folder {
    name: String,
    dir: OwnedFd,
    /// The names standing for their session, sorted by id.
    names: Vec<String>,
    /// Names the listing gave as something else than a regular file, sorted.
    irregular: Vec<String>,
    /// Slices not read yet.
    left: AtomicUsize,
    /// Taken by whoever reads the last slice.
    scan: Mutex<Option<FolderScan>>,
}

enum Job {
    List(usize),
    Slice(Arc<Folder>, Range<usize>),
}

struct Queue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

struct QueueState {
    next_folder: usize,
    /// Workers listing a folder: slices may still come.
    listing: usize,
    slices: VecDeque<(Arc<Folder>, Range<usize>)>,
}

/// Says a listing is over when dropped, even by a panic, so no worker
/// waits for slices that will never come.
struct Listing<'a>(&'a Queue);

impl Drop for Listing<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).listing -= 1;
        self.0.wake.notify_all();
    }
}

impl Queue {
    /// The next job: a slice waiting, else the next folder to list; `None`
    /// once everything is listed and taken.
    fn next(&self, folders: usize) -> Option<Job> {
        let mut st = lock(&self.state);
        loop {
            if let Some((f, r)) = st.slices.pop_front() {
                return Some(Job::Slice(f, r));
            }
            if st.next_folder < folders {
                st.next_folder += 1;
                st.listing += 1;
                return Some(Job::List(st.next_folder - 1));
            }
            if st.listing == 0 {
                return None;
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn push(&self, folder: &Arc<Folder>) {
        let mut st = lock(&self.state);
        let n = folder.names.len();
        for start in (0..n).step_by(SLICE) {
            st.slices
                .push_back((folder.clone(), start..(start + SLICE).min(n)));
        }
    }
}

/// What listing a folder gave.
enum Listed {
    /// Gone: nothing to say of it.
    Gone,
    /// Nothing to read: unreadable, or no session file.
    Done(Box<FolderScan>),
    Read(Arc<Folder>),
}

/// A worker's buffers, kept from slice to slice.
#[derive(Default)]
struct Buffers {
    /// The slice's files, one after the other.
    text: Vec<u8>,
    same: Vec<bool>,
}

impl Ctx<'_> {
    fn work(&self, tx: &mpsc::Sender<FolderScan>) {
        let mut buffers = Buffers::default();
        while let Some(job) = self.queue.next(self.folders.len()) {
            match job {
                Job::List(i) => {
                    let _listing = Listing(self.queue);
                    match self.list(&self.folders[i]) {
                        Listed::Gone => {}
                        // The caller is there until every worker is done.
                        Listed::Done(scan) => drop(tx.send(*scan)),
                        Listed::Read(folder) => self.queue.push(&folder),
                    }
                }
                Job::Slice(folder, range) => {
                    self.read_slice(&folder, range, &mut buffers);
                    if folder.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        if let Some(scan) = lock(&folder.scan).take() {
                            drop(tx.send(scan));
                        }
                    }
                }
            }
        }
    }

    /// Lists one app folder (its one pass over the directory), removing
    /// leftover temporaries when asked.
    fn list(&self, name: &str) -> Listed {
        let scan = |entries| FolderScan {
            folder: name.to_string(),
            entries,
            session_label: None,
            manifest_label: None,
            shadowed: Vec::new(),
        };
        let path = self.store.root().join(name);
        let listed = self.store.open_folder(name).and_then(|dir| {
            let (mut irregular, mut temps) = (Vec::new(), Vec::new());
            let names = SessionStore::list(&dir, &path, |n, kind| {
                if is_session_name(n) {
                    if kind != FileType::RegularFile {
                        irregular.push(n.to_string());
                    }
                    return true;
                }
                if self.remove_temps && is_write_temp(n) && kind == FileType::RegularFile {
                    temps.push(n.to_string());
                }
                false
            })?;
            Ok((dir, names, irregular, temps))
        });
        let (dir, names, mut irregular, temps) = match listed {
            Ok(l) => l,
            // Gone during the scan: it simply has no sessions.
            Err(e) if e.is_not_found() => return Listed::Gone,
            Err(e) => return Listed::Done(Box::new(scan(Err(e.failure())))),
        };
        for t in temps {
            match rfs::unlinkat(&dir, t.as_str(), AtFlags::empty()) {
                Ok(()) => drop(self.temps.fetch_add(1, Ordering::Relaxed)),
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.join(&t).display()),
            }
        }
        let manifest = self.store.read_manifest_in(&dir, name);
        let (names, shadowed) = one_name_per_id(names);
        irregular.sort_unstable();
        let mut found = scan(Ok(Vec::with_capacity(names.len())));
        found.manifest_label = manifest.as_deref().and_then(app_label);
        found.shadowed = shadowed;
        if names.is_empty() {
            return Listed::Done(Box::new(found));
        }
        Listed::Read(Arc::new(Folder {
            name: name.to_string(),
            dir,
            left: AtomicUsize::new(names.len().div_ceil(SLICE)),
            names,
            irregular,
            scan: Mutex::new(Some(found)),
        }))
    }

    /// Reads one slice of a folder's files: all of them first, then the
    /// view is asked once which it holds already, then the others are
    /// validated.
    fn read_slice(&self, f: &Folder, range: Range<usize>, b: &mut Buffers) {
        let names = &f.names[range];
        let path = |n: &str| self.store.session_path(&f.name, n);
        b.text.clear();
        let reads: Vec<Result<Range<usize>, StoreError>> = names
            .iter()
            .map(|n| {
                if f.irregular.binary_search(n).is_ok() {
                    return Err(StoreError::NotRegular { path: path(n) });
                }
                let start = b.text.len();
                read_listed(&f.dir, n, &mut b.text, || path(n)).map(|()| start..b.text.len())
            })
            .collect();
        let ids: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let probes: Vec<Probe<'_>> = reads
            .iter()
            .zip(names.iter().zip(&ids))
            .filter_map(|(r, (name, id))| {
                let text = &b.text[r.as_ref().ok()?.clone()];
                // `validate` hashes the text after its BOM; so must this.
                let hash = content_hash(strip_bom(text));
                Some(Probe { id, name, hash })
            })
            .collect();
        (self.known)(&f.name, &probes, &mut b.same);
        drop(probes);
        let mut same = b.same.iter();
        let mut entries = Vec::with_capacity(names.len());
        let mut label: Option<(String, AppLabel)> = None;
        for ((read, name), key) in reads.into_iter().zip(names).zip(ids) {
            let text = match read {
                Ok(_) if same.next() == Some(&true) => {
                    entries.push((key, Scanned::Same));
                    continue;
                }
                Ok(r) => Ok(&b.text[r]),
                Err(e) => Err(e),
            };
            // Only a valid file that would name the app is asked for its
            // label: a few per slice.
            let want = names_the_app(&key, label.as_ref().map(|(id, _)| id.as_str()));
            let found = match classify(&f.name, name, text, want) {
                FileRead::Found(entry, read_label) => {
                    if let Some(l) = read_label {
                        label = Some((key.clone(), l));
                    }
                    Scanned::Read(entry)
                }
                FileRead::Gone => continue,
                FileRead::Writing => Scanned::Same,
                FileRead::Transient(failure) | FileRead::FolderUnreadable(failure) => {
                    Scanned::Transient {
                        name: name.clone(),
                        failure,
                    }
                }
            };
            entries.push((key, found));
        }
        let mut scan = lock(&f.scan);
        let Some(scan) = scan.as_mut() else { return };
        if let Ok(all) = &mut scan.entries {
            all.extend(entries);
        }
        if let Some((id, l)) = label {
            let best = scan.session_label.as_ref().map(|(best, _)| best.as_str());
            if names_the_app(&id, best) {
                scan.session_label = Some((id, l));
            }
        }
    }
}
