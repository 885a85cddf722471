//! [`SessionStore`]: every file operation on `MobileApps`, and nothing that
//! could reach outside it.
//!
//! Each operation opens the app folder with `O_NOFOLLOW | O_DIRECTORY` and
//! then works relative to that descriptor (`openat`, `renameat`, `unlinkat`),
//! so a symlink planted as an app folder or a session file is never followed,
//! even if it appears between a check and a use. Entries that are not
//! regular files (FIFOs, devices, sockets, directories, symlinks) are never
//! opened for reading: they are reported as such from their `lstat`.
//!
//! Reads ([`read`]) give a [`FileVersion`]. Writes ([`write`]) are atomic:
//! a temporary dot-file in the same folder, fsync, rename over the old
//! file, fsync of the folder. A crash at any instant leaves the old or the
//! new file, never a torn one. A rewrite is also *checked*
//! ([`WriteMode::ReplaceIfUnchanged`]): it only replaces the very version
//! it read, so a change made meanwhile by another writer (the 4D server) is
//! never lost — see [`SessionStore::write`].

mod lease;
mod read;
pub mod scan;
pub mod share;
mod write;

pub use read::{FileStamp, FileVersion};
pub use write::{is_write_temp, WriteMode, TEMP_SUFFIX};

use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::model::names::{is_app_folder_name, is_plain_name, is_session_name, MANIFEST};
use crate::model::reconcile::Failure;
use read::read_regular;

/// Session files larger than this are reported invalid instead of being read.
pub const MAX_SESSION_FILE: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} is not a plain file or folder name")]
    BadName(String),
    #[error("{path} is a symbolic link or not a regular file; it is left alone")]
    NotRegular { path: PathBuf },
    #[error("{path} is larger than {MAX_SESSION_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    #[error("{path} changed while it was being rewritten; nothing was written")]
    Changed { path: PathBuf },
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Said of an app folder: it is gone, or is no folder now (a symlink).
    pub fn is_gone(&self) -> bool {
        self.is_not_found() || matches!(self, StoreError::NotRegular { .. })
    }

    /// The error as the view's reconciliation sees it.
    pub fn failure(&self) -> Failure {
        Failure {
            transient: self.is_transient(),
            message: self.to_string(),
        }
    }

    /// An error that says nothing about the file itself and may pass on
    /// its own (out of descriptors or memory, an I/O hiccup, an interrupted
    /// call): the file's last good reading should be kept and retried.
    pub fn is_transient(&self) -> bool {
        let StoreError::Io { source, .. } = self else {
            return false;
        };
        matches!(
            source.raw_os_error(),
            Some(
                libc::EMFILE
                    | libc::ENFILE
                    | libc::ENOMEM
                    | libc::ENOBUFS
                    | libc::EIO
                    | libc::EINTR
                    | libc::EAGAIN
                    | libc::ETIMEDOUT
                    | libc::ESTALE
                    | libc::EBUSY
            )
        )
    }
}

/// The `MobileApps` folder of one data dir.
#[derive(Debug, Clone)]
pub struct SessionStore {
    root: PathBuf,
    /// The mode of new session files ([`share`]).
    file_mode: u32,
}

impl SessionStore {
    /// Opens `DATA_DIR/MobileApps`, creating it (0750) if missing.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let root = data_dir.join("MobileApps");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&root)
            .map_err(|source| StoreError::Io {
                path: root.clone(),
                source,
            })?;
        let root = root.canonicalize().map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Self {
            root,
            file_mode: share::DEFAULT_FILE_MODE,
        })
    }

    /// New session files get `mode` (and new app folders its
    /// [`share::folder_mode`]).
    pub fn with_file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn session_path(&self, folder: &str, name: &str) -> PathBuf {
        self.root.join(folder).join(name)
    }

    fn io(path: PathBuf) -> impl FnOnce(rustix::io::Errno) -> StoreError {
        move |e| StoreError::Io {
            path,
            source: e.into(),
        }
    }

    /// The names in the folder open as `dir` (at `path`, for errors) that
    /// `keep` accepts, by name and file type. Listed through the descriptor,
    /// so an app folder swapped for a symlink is not listed through it; a
    /// symlink's type is its own, so links are never taken for folders. An
    /// error part way is an error, not a shorter list (the names missing
    /// would read as deleted).
    fn list(
        dir: &OwnedFd,
        path: &Path,
        mut keep: impl FnMut(&str, rfs::FileType) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let entries = rfs::Dir::read_from(dir).map_err(Self::io(path.to_path_buf()))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Self::io(path.to_path_buf()))?;
            let Ok(name) = entry.file_name().to_str() else {
                continue; // not UTF-8: no name of ours
            };
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                // Some file systems do not say: ask, without following.
                rfs::FileType::Unknown => {
                    match rfs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => rfs::FileType::from_raw_mode(st.st_mode),
                        Err(_) => continue, // gone meanwhile
                    }
                }
                kind => kind,
            };
            if keep(name, kind) {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    /// The app folders: real directories with plain, visible names. Symlinks
    /// are skipped; they may point anywhere.
    pub fn app_folders(&self) -> Result<Vec<String>, StoreError> {
        let root = self.open_root()?;
        let mut out = Self::list(&root, &self.root, |n, t| {
            is_app_folder_name(n) && t == rfs::FileType::Directory
        })?;
        out.sort();
        Ok(out)
    }

    /// The entries of one folder named like sessions, whatever their type:
    /// a FIFO or a directory named like a session is listed (and found
    /// invalid when read), the same at a scan as when the watcher reports it.
    pub fn session_names(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.open_folder(folder)?;
        Self::list(&dir, &self.root.join(folder), |n, _| is_session_name(n))
    }

    fn checked_folder(&self, folder: &str) -> Result<PathBuf, StoreError> {
        if !is_app_folder_name(folder) {
            return Err(StoreError::BadName(folder.to_string()));
        }
        Ok(self.root.join(folder))
    }

    /// Opens an app folder (never through a symlink) for `read_in`.
    pub fn open_folder(&self, folder: &str) -> Result<OwnedFd, StoreError> {
        let path = self.checked_folder(folder)?;
        rfs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
                StoreError::NotRegular { path }
            } else {
                Self::io(path)(e)
            }
        })
    }

    fn check_name(name: &str) -> Result<(), StoreError> {
        if is_plain_name(name) && is_session_name(name) {
            Ok(())
        } else {
            Err(StoreError::BadName(name.to_string()))
        }
    }

    /// Whether a directory entry of that name is in the folder (a link or
    /// any kind of file counts; nothing is followed).
    pub fn exists(&self, folder: &str, name: &str) -> bool {
        Self::check_name(name).is_ok()
            && self
                .open_folder(folder)
                .is_ok_and(|dir| rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok())
    }

    /// When each named session file of `folder` was last written (ms since
    /// the epoch; `None` when it is not there or cannot be read). Through
    /// the folder's descriptor: nothing is followed.
    #[allow(clippy::unnecessary_cast)] // the field types differ by platform
    pub fn modified(&self, folder: &str, names: &[&str]) -> Vec<Option<u64>> {
        let Ok(dir) = self.open_folder(folder) else {
            return vec![None; names.len()];
        };
        names
            .iter()
            .map(|name| {
                let st = rfs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
                let ms = (st.st_mtime as i64)
                    .checked_mul(1000)?
                    .checked_add(st.st_mtime_nsec as i64 / 1_000_000)?;
                u64::try_from(ms).ok()
            })
            .collect()
    }

    /// Deletes one session file (a regular file, never a link target).
    pub fn delete(&self, folder: &str, name: &str) -> Result<(), StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        let path = self.session_path(folder, name);
        let st =
            rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(Self::io(path.clone()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(StoreError::NotRegular { path });
        }
        rfs::unlinkat(&dir, name, AtFlags::empty()).map_err(Self::io(path.clone()))?;
        rfs::fsync(&dir).map_err(Self::io(self.root.join(folder)))
    }

    fn open_root(&self) -> Result<OwnedFd, StoreError> {
        rfs::open(
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(Self::io(self.root.clone()))
    }

    /// Creates an app folder for a first sign-in, shared with `MobileApps`'
    /// group ([`share::new_folder`]). Returns whether it was created (false:
    /// it existed).
    pub fn ensure_folder(&self, folder: &str) -> Result<bool, StoreError> {
        let path = self.checked_folder(folder)?;
        let root = self.open_root()?;
        match rfs::mkdirat(&root, folder, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let shared = self.open_folder(folder).and_then(|dir| {
                    share::new_folder(&dir, &root, self.file_mode).map_err(Self::io(path))
                });
                if let Err(e) = shared {
                    let _ = rfs::unlinkat(&root, folder, AtFlags::REMOVEDIR);
                    return Err(e);
                }
                rfs::fsync(&root)
                    .map(|()| true)
                    .map_err(Self::io(self.root.clone()))
            }
            Err(rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(Self::io(path)(e)),
        }
    }

    /// Removes an app folder if it is empty (undoing `ensure_folder` after
    /// a failed first write); a folder with anything in it stays. Returns
    /// whether it was removed.
    pub fn remove_folder_if_empty(&self, folder: &str) -> Result<bool, StoreError> {
        let path = self.checked_folder(folder)?;
        let root = self.open_root()?;
        match rfs::unlinkat(&root, folder, AtFlags::REMOVEDIR) {
            Ok(()) => rfs::fsync(&root)
                .map(|()| true)
                .map_err(Self::io(self.root.clone())),
            Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => Ok(false),
            Err(e) => Err(Self::io(path)(e)),
        }
    }

    /// The bytes of a folder's `manifest.json`, if it has a readable one
    /// (read-only; it names apps that have no session yet).
    pub fn read_manifest(&self, folder: &str) -> Option<Vec<u8>> {
        self.read_manifest_in(&self.open_folder(folder).ok()?, folder)
    }

    /// [`Self::read_manifest`] of a folder opened with `open_folder`.
    fn read_manifest_in(&self, dir: &OwnedFd, folder: &str) -> Option<Vec<u8>> {
        read_regular(dir, MANIFEST, MAX_SESSION_FILE, || {
            self.root.join(folder).join(MANIFEST)
        })
        .ok()
        .map(|f| f.bytes)
    }
}

/// Errors the tests make reads, or writes, of a given file name fail with
/// (an EMFILE or an ENOSPC is hard to provoke for one file only).
#[cfg(test)]
pub mod faults {
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// By (is a write, file name).
    static FAULTS: Mutex<Option<HashMap<(bool, String), i32>>> = Mutex::new(None);

    fn put(write: bool, name: &str, errno: Option<i32>) {
        let mut f = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
        let map = f.get_or_insert_with(HashMap::new);
        match errno {
            Some(e) => map.insert((write, name.to_string()), e),
            None => map.remove(&(write, name.to_string())),
        };
    }

    fn get_for(write: bool, name: &str) -> Option<i32> {
        let f = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
        f.as_ref()?.get(&(write, name.to_string())).copied()
    }

    /// Reads of `name` fail with `errno` (`None`: they work again). Use
    /// names no other test uses: tests run in parallel.
    pub fn set(name: &str, errno: Option<i32>) {
        put(false, name, errno);
    }

    /// Writing the bytes of a new version of `name` fails with `errno`.
    pub fn set_write(name: &str, errno: Option<i32>) {
        put(true, name, errno);
    }

    pub(super) fn get(name: &str) -> Option<i32> {
        get_for(false, name)
    }

    /// The error a write of `name`'s bytes is to fail with, if any.
    pub(super) fn fail_write(name: &str) -> std::io::Result<()> {
        match get_for(true, name) {
            Some(errno) => Err(std::io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn store() -> (tempfile::TempDir, SessionStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path()).unwrap();
        std::fs::create_dir(store.root().join("T.com.x")).unwrap();
        (dir, store)
    }

    /// Whether a checked rewrite of T.com.x/abcd, read as `read`, is refused
    /// because the file changed since.
    fn changed_meanwhile(s: &SessionStore, read: &FileVersion) -> bool {
        matches!(
            s.write(
                "T.com.x",
                "abcd",
                b"mine",
                WriteMode::ReplaceIfUnchanged(read)
            ),
            Err(StoreError::Changed { .. })
        )
    }

    #[test]
    fn atomic_replace_keeps_mode_and_leaves_no_temp() {
        let (_d, s) = store();
        let p = s.session_path("T.com.x", "abcd");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        let read = s.read("T.com.x", "abcd").unwrap();
        s.write(
            "T.com.x",
            "abcd",
            b"new",
            WriteMode::ReplaceIfUnchanged(&read),
        )
        .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o664
        );
        assert_eq!(
            std::fs::read_dir(s.root().join("T.com.x")).unwrap().count(),
            1
        );
        // Replacing needs an existing file; creating needs a free name.
        assert!(s
            .write(
                "T.com.x",
                "beef",
                b"x",
                WriteMode::ReplaceIfUnchanged(&read)
            )
            .is_err());
        assert!(matches!(
            s.write("T.com.x", "abcd", b"x", WriteMode::Create),
            Err(StoreError::Exists { .. })
        ));
        s.write("T.com.x", "beef", b"x", WriteMode::Create).unwrap();
        assert_eq!(
            std::fs::metadata(s.session_path("T.com.x", "beef"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o660
        );
    }

    #[test]
    fn a_replace_refuses_a_file_changed_since_it_was_read() {
        let (_d, s) = store();
        let p = s.session_path("T.com.x", "abcd");
        std::fs::write(&p, "v1").unwrap();
        let read = s.read("T.com.x", "abcd").unwrap();
        // Same size, rewritten in place (the mtime may not even move).
        std::fs::write(&p, "v2").unwrap();
        assert!(changed_meanwhile(&s, &read));
        // Replaced by a rename.
        let read = s.read("T.com.x", "abcd").unwrap();
        let other = s.root().join("T.com.x").join(".editor");
        std::fs::write(&other, "v2").unwrap();
        std::fs::rename(&other, &p).unwrap();
        assert!(changed_meanwhile(&s, &read));
        assert_eq!(std::fs::read(&p).unwrap(), b"v2");
        assert_eq!(
            std::fs::read_dir(s.root().join("T.com.x")).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_writer_holding_the_file_open_is_seen_through_the_lease() {
        use std::os::unix::fs::FileExt;
        let (_d, s) = store();
        let p = s.session_path("T.com.x", "abcd");
        std::fs::write(&p, "0123456789").unwrap();
        let read = s.read_for_rewrite("T.com.x", "abcd").unwrap();
        if read.lease.is_none() {
            eprintln!("skipped: no lease on this file system / user");
            return;
        }
        // A writer opens the file while we hold the lease (its open waits for
        // us), then writes the same bytes back: nothing a comparison could see.
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
                f.write_all_at(b"0123", 0).unwrap();
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while read.lease_unbroken() {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never broke"
            );
            std::thread::yield_now();
        }
        assert!(changed_meanwhile(&s, &read));
        drop(read);
        writer.join().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"0123456789");
    }

    #[test]
    fn a_write_that_fails_leaves_the_old_file_whole_and_no_temporary() {
        let (_d, s) = store();
        // Names of their own: the faults apply to every test's writes of them.
        let (old, new) = ("5ace0001", "5ace0002");
        let p = s.session_path("T.com.x", old);
        std::fs::write(&p, "old").unwrap();
        faults::set_write(old, Some(libc::ENOSPC));
        faults::set_write(new, Some(libc::ENOSPC));
        let read = s.read_for_rewrite("T.com.x", old).unwrap();
        let no_space = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOSPC));
        assert!(no_space(s.write(
            "T.com.x",
            old,
            b"new",
            WriteMode::ReplaceIfUnchanged(&read)
        )));
        assert!(no_space(s.write("T.com.x", new, b"new", WriteMode::Create)));
        faults::set_write(old, None);
        faults::set_write(new, None);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let left: Vec<_> = std::fs::read_dir(s.root().join("T.com.x"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [old]);
    }

    #[test]
    fn special_files_are_never_opened() {
        let (_d, s) = store();
        let fifo = s.session_path("T.com.x", "abcd");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::fs::create_dir(s.session_path("T.com.x", "beef")).unwrap();
        for name in ["abcd", "beef"] {
            assert!(matches!(
                s.read("T.com.x", name),
                Err(StoreError::NotRegular { .. })
            ));
        }
        let mut names = s.session_names("T.com.x").unwrap();
        names.sort();
        assert_eq!(names, ["abcd", "beef"]);
    }

    #[test]
    fn symlinks_are_never_followed() {
        let (d, s) = store();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("abcd"), "secret").unwrap();
        symlink(&outside, s.root().join("T.com.evil")).unwrap();
        symlink(outside.join("abcd"), s.session_path("T.com.x", "beef")).unwrap();
        assert!(s.read("T.com.evil", "abcd").is_err());
        assert!(s
            .write("T.com.evil", "abcd", b"x", WriteMode::Create)
            .is_err());
        assert!(s.delete("T.com.evil", "abcd").is_err());
        assert!(s.read("T.com.x", "beef").is_err());
        assert!(s.write("T.com.x", "beef", b"x", WriteMode::Create).is_err());
        assert!(s.delete("T.com.x", "beef").is_err());
        assert_eq!(std::fs::read(outside.join("abcd")).unwrap(), b"secret");
        assert!(!s.app_folders().unwrap().contains(&"T.com.evil".to_string()));
    }

    #[test]
    fn bad_names_are_refused() {
        let (_d, s) = store();
        for (folder, name) in [
            ("..", "abcd"),
            ("T.com.x", "../abcd"),
            ("a/b", "abcd"),
            ("T.com.x", "ab\0cd"),
            ("/etc", "abcd"),
        ] {
            assert!(
                matches!(s.read(folder, name), Err(StoreError::BadName(_))),
                "{folder} {name}"
            );
        }
    }

    #[test]
    fn temp_names() {
        assert!(is_write_temp(".abcd.0123456789ab.tmp"));
        for n in [
            "abcd",
            ".abcd.tmp",
            ".abcd.0123.tmp",
            ".x.0123456789ab.tmp",
            "abcd.0123456789ab.tmp",
        ] {
            assert!(!is_write_temp(n), "{n}");
        }
    }

    #[test]
    fn an_app_folder_that_is_a_symlink_is_not_listed_through() {
        let (d, s) = store();
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("abcd"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, s.root().join("com.link")).unwrap();
        assert!(matches!(
            s.session_names("com.link"),
            Err(StoreError::NotRegular { .. })
        ));
        assert!(!s.app_folders().unwrap().contains(&"com.link".to_string()));
    }

    #[test]
    fn an_emptied_folder_can_be_removed_a_used_one_stays() {
        let (_d, s) = store();
        assert!(s.ensure_folder("com.new").unwrap());
        assert!(!s.ensure_folder("com.new").unwrap());
        assert!(s.remove_folder_if_empty("com.new").unwrap());
        assert!(!s.root().join("com.new").exists());
        std::fs::write(s.session_path("T.com.x", "abcd"), "x").unwrap();
        assert!(!s.remove_folder_if_empty("T.com.x").unwrap());
        assert!(s.root().join("T.com.x").exists());
    }
}
