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
//! Writes are atomic: a temporary dot-file in the same folder, fsync,
//! rename over the old file, fsync of the folder. A crash at any instant
//! leaves the old or the new file, never a torn one. A rewrite is also
//! *checked* ([`WriteMode::ReplaceIfUnchanged`]): it only replaces the very
//! version it read, so a change made meanwhile by another writer (the 4D
//! server) is never lost — see [`SessionStore::write`].

mod lease;
pub mod scan;
pub mod share;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::model::names::{is_app_folder_name, is_plain_name, is_session_name, MANIFEST};

/// Session files larger than this are reported invalid instead of being read.
pub const MAX_SESSION_FILE: u64 = 1024 * 1024;

/// The suffix of our atomic-write temporaries: `.<session id>.<12 hex>.tmp`.
pub const TEMP_SUFFIX: &str = ".tmp";

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

/// What identifies one version of a file: enough to see any rewrite
/// (rename or in place) between a read and a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileStamp {
    fn of(st: &rfs::Stat) -> Self {
        #[allow(clippy::unnecessary_cast)] // the field types differ by platform
        Self {
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }
}

/// A file as read: its bytes and the version they are. Read for a rewrite,
/// it may also hold a read lease until it is dropped (see [`lease`]).
#[derive(Debug)]
pub struct FileBytes {
    pub bytes: Vec<u8>,
    pub stamp: FileStamp,
    lease: Option<lease::Lease>,
}

impl FileBytes {
    /// Whether no writer opened the file since it was read (always true
    /// without a lease: then only the bytes and inode tell).
    fn undisturbed(&self) -> bool {
        self.lease.as_ref().is_none_or(lease::Lease::intact)
    }
}

/// How [`SessionStore::write`] treats the file it writes.
#[derive(Debug, Clone, Copy)]
pub enum WriteMode<'a> {
    /// A new file (the store's file mode, its folder's group); fails with
    /// [`StoreError::Exists`] if the name is taken, even by a file that
    /// appears meanwhile.
    Create,
    /// Replaces the file, provided it is still the version read (same inode,
    /// same bytes); else fails with [`StoreError::Changed`] and writes nothing.
    ReplaceIfUnchanged(&'a FileBytes),
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
        keep: impl Fn(&str, rfs::FileType) -> bool,
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

    /// Reads one session file (never through a symlink, at most 1 MiB).
    pub fn read(&self, folder: &str, name: &str) -> Result<FileBytes, StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        self.read_in(&dir, folder, name)
    }

    /// Reads one session file to rewrite it: as `read`, and where it can,
    /// under a read lease held until the result is dropped, so a writer
    /// that opens the file meanwhile is seen by the checked write.
    pub fn read_for_rewrite(&self, folder: &str, name: &str) -> Result<FileBytes, StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        let path = || self.session_path(folder, name);
        let (file, _) = open_regular(&dir, name, &path)?;
        // Read (and stamp) after the lease: a writer that had the file open
        // has finished by now.
        let (bytes, stamp, lease) = match lease::Lease::take(file) {
            lease::Taken::Lease(l) => {
                let (bytes, stamp) = read_open(l.file(), MAX_SESSION_FILE, &path)?;
                (bytes, stamp, Some(l))
            }
            lease::Taken::Unavailable(f) => {
                let (bytes, stamp) = read_open(&f, MAX_SESSION_FILE, &path)?;
                (bytes, stamp, None)
            }
        };
        Ok(FileBytes {
            bytes,
            stamp,
            lease,
        })
    }

    /// Reads one session file of a folder opened with `open_folder`.
    pub fn read_in(
        &self,
        dir: &OwnedFd,
        folder: &str,
        name: &str,
    ) -> Result<FileBytes, StoreError> {
        Self::check_name(name)?;
        read_regular(dir, name, MAX_SESSION_FILE, || {
            self.session_path(folder, name)
        })
    }

    /// Writes a session file atomically (see [`WriteMode`]): a temporary
    /// dot-file in the same folder, fsync, then a link (create) or a checked
    /// rename (replace), then an fsync of the folder. A replaced file keeps
    /// its mode, and its owner where allowed (as root); a new one gets the
    /// store's file mode and its folder's group ([`share`]).
    ///
    /// The check of a replace: just before the rename, the file must still
    /// be the inode and the bytes that were read. Where the platform can
    /// (Linux `renameat2(RENAME_EXCHANGE)`, macOS `RENAME_SWAP`), the new
    /// file is *swapped* in and the file it displaced is checked again, so a
    /// writer that replaced or rewrote the file between the check and the
    /// swap is seen too, and the swap undone. Read with
    /// [`SessionStore::read_for_rewrite`], the file is also under a read
    /// lease (Linux): a writer that opens it, or held it open, is seen even
    /// if its bytes come late. ARCHITECTURE.md tells what remains.
    pub fn write(
        &self,
        folder: &str,
        name: &str,
        bytes: &[u8],
        mode: WriteMode<'_>,
    ) -> Result<(), StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        let path = self.session_path(folder, name);
        let old = match (mode, rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)) {
            (WriteMode::Create, Ok(_)) => return Err(StoreError::Exists { path }),
            (WriteMode::Create, Err(rustix::io::Errno::NOENT)) => None,
            (WriteMode::ReplaceIfUnchanged(_), Ok(st))
                if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile =>
            {
                return Err(StoreError::NotRegular { path });
            }
            (WriteMode::ReplaceIfUnchanged(_), Ok(st)) => Some(st),
            (_, Err(e)) => return Err(Self::io(path)(e)),
        };
        let tmp_name = format!(".{name}.{}{TEMP_SUFFIX}", random_suffix());
        let tmp_path = self.session_path(folder, &tmp_name);
        let fd = rfs::openat(
            &dir,
            tmp_name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(Self::io(tmp_path.clone()))?;
        let mut tmp_exists = true;
        let result = (|| {
            if let Some(st) = &old {
                rfs::fchmod(&fd, Mode::from_raw_mode(st.st_mode & 0o7777))
                    .map_err(Self::io(tmp_path.clone()))?;
                // Only root may give a file away. Elsewhere the owner stays
                // ours, but the group can be kept when we belong to it (the
                // 4D server's group, shared with the daemon's user).
                if rustix::process::geteuid().is_root() {
                    rfs::fchown(
                        &fd,
                        Some(rfs::Uid::from_raw(st.st_uid)),
                        Some(rfs::Gid::from_raw(st.st_gid)),
                    )
                    .map_err(Self::io(tmp_path.clone()))?;
                } else if rustix::process::getegid().as_raw() != st.st_gid {
                    let _ = rfs::fchown(&fd, None, Some(rfs::Gid::from_raw(st.st_gid)));
                }
            } else {
                share::new_file(&fd, &dir, self.file_mode).map_err(Self::io(tmp_path.clone()))?;
            }
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes)
                .and_then(|()| file.sync_all())
                .map_err(|source| StoreError::Io {
                    path: tmp_path.clone(),
                    source,
                })?;
            drop(file);
            match mode {
                WriteMode::Create => {
                    // Link, not rename: fails if a file of that name appeared meanwhile.
                    rfs::linkat(&dir, tmp_name.as_str(), &dir, name, AtFlags::empty()).map_err(
                        |e| match e {
                            rustix::io::Errno::EXIST => StoreError::Exists { path: path.clone() },
                            e => Self::io(path.clone())(e),
                        },
                    )?;
                }
                WriteMode::ReplaceIfUnchanged(expected) => {
                    if !still(&dir, name, expected) {
                        return Err(StoreError::Changed { path: path.clone() });
                    }
                    if swap(&dir, &tmp_name, name).map_err(Self::io(path.clone()))? {
                        // The temporary name now holds the displaced file.
                        if !still(&dir, &tmp_name, expected) {
                            // Someone rewrote it meanwhile: put theirs back
                            // (ours, then at the temporary name, goes).
                            if !matches!(swap(&dir, &tmp_name, name), Ok(true)) {
                                // Theirs is at the temporary name: never remove it.
                                tmp_exists = false;
                                if let Err(e) = rfs::renameat(&dir, tmp_name.as_str(), &dir, name) {
                                    // Keep it under a name no clean-up removes.
                                    let saved = format!(".{name}.{}.saved", random_suffix());
                                    let kept = rfs::renameat(
                                        &dir,
                                        tmp_name.as_str(),
                                        &dir,
                                        saved.as_str(),
                                    );
                                    tracing::error!(
                                        "{}: another writer's version could not be put back ({e}); it is kept as {} ({})",
                                        path.display(),
                                        self.session_path(folder, &saved).display(),
                                        if kept.is_ok() { "restore it by hand" } else { "and could not even be renamed: it is at the temporary name" }
                                    );
                                    return Err(Self::io(path.clone())(e));
                                }
                            }
                            return Err(StoreError::Changed { path: path.clone() });
                        }
                    } else {
                        rfs::renameat(&dir, tmp_name.as_str(), &dir, name)
                            .map_err(Self::io(path.clone()))?;
                        tmp_exists = false;
                    }
                }
            }
            Ok(())
        })();
        if tmp_exists {
            // Our temporary, or the version a swap displaced: either way ours to remove.
            let _ = rfs::unlinkat(&dir, tmp_name.as_str(), AtFlags::empty());
        }
        result?;
        rfs::fsync(&dir).map_err(Self::io(self.root.join(folder)))
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

    /// Removes the temporaries that interrupted writes (a crash, `kill -9`)
    /// left in the app folders: only regular dot-files named like ours
    /// (`.<session id>.<12 hex>.tmp`), never a session file. Returns how
    /// many were removed. Run at start, before any write of ours.
    pub fn remove_write_temps(&self) -> usize {
        let mut removed = 0;
        for folder in self.app_folders().unwrap_or_default() {
            let Ok(dir) = self.open_folder(&folder) else {
                continue;
            };
            let path = self.root.join(&folder);
            let Ok(names) = Self::list(&dir, &path, |n, t| {
                is_write_temp(n) && t == rfs::FileType::RegularFile
            }) else {
                continue;
            };
            for name in names {
                match rfs::unlinkat(&dir, name.as_str(), AtFlags::empty()) {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!("cannot remove {}: {e}", path.join(&name).display()),
                }
            }
        }
        removed
    }

    /// The bytes of a folder's `manifest.json`, if it has a readable one
    /// (read-only; it names apps that have no session yet).
    pub fn read_manifest(&self, folder: &str) -> Option<Vec<u8>> {
        let dir = self.open_folder(folder).ok()?;
        read_regular(&dir, MANIFEST, MAX_SESSION_FILE, || {
            self.root.join(folder).join(MANIFEST)
        })
        .ok()
        .map(|f| f.bytes)
    }
}

/// Opens a regular file of `dir` read-only. The entry's type is checked
/// before it is opened (a FIFO or a device is never opened), and again on
/// the descriptor, in case it was swapped in between.
fn open_regular(
    dir: &OwnedFd,
    name: &str,
    path: &impl Fn() -> PathBuf,
) -> Result<(std::fs::File, rfs::Stat), StoreError> {
    #[cfg(test)]
    if let Some(errno) = faults::get(name) {
        return Err(StoreError::Io {
            path: path(),
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| SessionStore::io(path())(e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(StoreError::NotRegular { path: path() });
    }
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            StoreError::NotRegular { path: path() }
        } else {
            SessionStore::io(path())(e)
        }
    })?;
    let st = rfs::fstat(&fd).map_err(|e| SessionStore::io(path())(e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(StoreError::NotRegular { path: path() });
    }
    Ok((std::fs::File::from(fd), st))
}

/// Reads an open file whole (at most `max` bytes), with its stamp.
fn read_open(
    mut file: &std::fs::File,
    max: u64,
    path: &impl Fn() -> PathBuf,
) -> Result<(Vec<u8>, FileStamp), StoreError> {
    let st = rfs::fstat(file).map_err(|e| SessionStore::io(path())(e))?;
    if st.st_size as u64 > max {
        return Err(StoreError::TooLarge { path: path() });
    }
    let mut buf = Vec::with_capacity(st.st_size as usize);
    // Read one byte past the limit so a file that grew is still caught.
    (&mut file)
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|source| StoreError::Io {
            path: path(),
            source,
        })?;
    if buf.len() as u64 > max {
        return Err(StoreError::TooLarge { path: path() });
    }
    Ok((buf, FileStamp::of(&st)))
}

/// Reads a regular file of `dir` (at most `max` bytes).
fn read_regular(
    dir: &OwnedFd,
    name: &str,
    max: u64,
    path: impl Fn() -> PathBuf,
) -> Result<FileBytes, StoreError> {
    let (file, _) = open_regular(dir, name, &path)?;
    let (bytes, stamp) = read_open(&file, max, &path)?;
    Ok(FileBytes {
        bytes,
        stamp,
        lease: None,
    })
}

/// Whether `name` in `dir` is still the version `expected` was read from:
/// the same inode holding the same bytes, and (under a lease) opened for
/// writing by nobody since. The bytes are compared, not only the times: a
/// same-size rewrite within one clock tick keeps the mtime.
fn still(dir: &OwnedFd, name: &str, expected: &FileBytes) -> bool {
    match read_regular(dir, name, MAX_SESSION_FILE, PathBuf::new) {
        Ok(now) => {
            now.stamp.ino == expected.stamp.ino
                && now.bytes == expected.bytes
                && expected.undisturbed()
        }
        Err(_) => false,
    }
}

/// Atomically exchanges two names of `dir`; false where the platform or
/// the file system cannot (the caller then renames).
fn swap(dir: &OwnedFd, a: &str, b: &str) -> Result<bool, rustix::io::Errno> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        match rfs::renameat_with(dir.as_fd(), a, dir.as_fd(), b, rfs::RenameFlags::EXCHANGE) {
            Ok(()) => Ok(true),
            Err(
                rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP,
            ) => Ok(false),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (dir.as_fd(), a, b);
        Ok(false)
    }
}

/// Whether a name is one of our atomic-write temporaries: `.<hex>.<12 hex>.tmp`.
/// Only these are ever removed as leftovers of an interrupted write.
pub fn is_write_temp(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
    else {
        return false;
    };
    let Some((id, rand)) = inner.rsplit_once('.') else {
        return false;
    };
    is_session_name(id) && rand.len() == 12 && rand.bytes().all(|b| b.is_ascii_hexdigit())
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    // A clash only makes O_EXCL fail, so a weak fallback is harmless.
    if getrandom::fill(&mut b).is_err() {
        b = (std::process::id() as u64 ^ 0x5eed).to_le_bytes()[..6]
            .try_into()
            .unwrap_or([7; 6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Errors the tests of the layers above make reads of a given file name
/// fail with (an EMFILE is hard to provoke for one file only).
#[cfg(test)]
pub mod faults {
    use std::collections::HashMap;
    use std::sync::Mutex;

    static FAULTS: Mutex<Option<HashMap<String, i32>>> = Mutex::new(None);

    /// Reads of `name` fail with `errno` (`None`: they work again). Use
    /// names no other test uses: tests run in parallel.
    pub fn set(name: &str, errno: Option<i32>) {
        let mut f = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
        let map = f.get_or_insert_with(HashMap::new);
        match errno {
            Some(e) => map.insert(name.to_string(), e),
            None => map.remove(name),
        };
    }

    pub(super) fn get(name: &str) -> Option<i32> {
        let f = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
        f.as_ref()?.get(name).copied()
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
    fn changed_meanwhile(s: &SessionStore, read: &FileBytes) -> bool {
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
        while read.undisturbed() {
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
    fn leftover_temporaries_are_removed_and_nothing_else() {
        let (_d, s) = store();
        let f = s.root().join("T.com.x");
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
        assert_eq!(s.remove_write_temps(), 1);
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
