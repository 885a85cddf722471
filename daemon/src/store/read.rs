//! Reading session files. A [`FileVersion`] is one version of a file as
//! read: its bytes and [`FileStamp`], and — read for a rewrite — the read
//! lease that tells whether anyone opened it for writing since. Its
//! [`FileVersion::is_current`] is the same-version check of a checked write.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::lease::{Lease, Taken};
use super::{SessionStore, StoreError, MAX_SESSION_FILE};
use crate::model::reconcile::Writer;

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

/// One version of a file as read: its bytes, its stamp, and when read for
/// a rewrite, the read lease held on it until this is dropped.
#[derive(Debug)]
pub struct FileVersion {
    pub bytes: Vec<u8>,
    pub stamp: FileStamp,
    pub(super) lease: Option<Lease>,
}

impl FileVersion {
    /// Whether nobody opened the file for writing since it was read
    /// (always true without a lease: then only the bytes and inode tell).
    pub(super) fn lease_unbroken(&self) -> bool {
        self.lease.as_ref().is_none_or(Lease::intact)
    }

    /// The same-version check: whether `name` in `dir` is still this
    /// version — the same inode holding the same bytes, opened for writing
    /// by nobody since. Under an unbroken lease the inode alone tells: the
    /// kernel breaks the lease at any open for writing or truncation, so
    /// the bytes cannot have changed. Without one the bytes are read and
    /// compared, not only the times: a same-size rewrite within one clock
    /// tick keeps the mtime.
    pub(super) fn is_current(&self, dir: &OwnedFd, name: &str) -> bool {
        if self.lease.is_some() {
            let same_inode = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
                    && FileStamp::of(&st).ino == self.stamp.ino
            });
            return same_inode && self.lease_unbroken();
        }
        match read_regular(dir, name, MAX_SESSION_FILE, PathBuf::new) {
            Ok(now) => now.stamp.ino == self.stamp.ino && now.bytes == self.bytes,
            Err(_) => false,
        }
    }
}

impl SessionStore {
    /// Reads one session file (never through a symlink, at most 1 MiB).
    pub fn read(&self, folder: &str, name: &str) -> Result<FileVersion, StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        self.read_in(&dir, folder, name)
    }

    /// Reads one session file to rewrite it: as `read`, and where it can,
    /// under a read lease held until the result is dropped, so a writer
    /// that opens the file meanwhile is seen by the checked write.
    pub fn read_for_rewrite(&self, folder: &str, name: &str) -> Result<FileVersion, StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        let path = || self.session_path(folder, name);
        let (file, _) = open_regular(&dir, name, &path)?;
        // Stamp and read after the lease: a writer that had the file open
        // has finished by now.
        let read_now = |file: &std::fs::File| {
            let st = rfs::fstat(file).map_err(|e| SessionStore::io(path())(e))?;
            read_open(file, &st, MAX_SESSION_FILE, &path)
        };
        let ((bytes, stamp), lease) = match Lease::take(file) {
            Taken::Lease(l) => (read_now(l.file())?, Some(l)),
            Taken::Unavailable(f) => (read_now(&f)?, None),
        };
        Ok(FileVersion {
            bytes,
            stamp,
            lease,
        })
    }

    /// Whether someone has session file `name` open for writing (a read
    /// lease, [`Lease::probe`]). A file that cannot be opened as a regular
    /// file is `Closed`: no writer will change that.
    pub fn writer(&self, folder: &str, name: &str) -> Writer {
        let opened = Self::check_name(name)
            .and_then(|()| self.open_folder(folder))
            .and_then(|dir| open_regular(&dir, name, &|| self.session_path(folder, name)));
        match opened {
            Ok((file, _)) => Lease::probe(&file),
            Err(e) if e.is_transient() => Writer::Unknown,
            Err(_) => Writer::Closed,
        }
    }

    /// Reads one session file of a folder opened with `open_folder`.
    pub fn read_in(
        &self,
        dir: &OwnedFd,
        folder: &str,
        name: &str,
    ) -> Result<FileVersion, StoreError> {
        Self::check_name(name)?;
        read_regular(dir, name, MAX_SESSION_FILE, || {
            self.session_path(folder, name)
        })
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
    injected_fault(name, path)?;
    let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| SessionStore::io(path())(e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(StoreError::NotRegular { path: path() });
    }
    open_checked(dir, name, path)
}

/// The error the tests make reads of `name` fail with, if any.
#[cfg(test)]
fn injected_fault(name: &str, path: &impl Fn() -> PathBuf) -> Result<(), StoreError> {
    match super::faults::get(name) {
        Some(errno) => Err(StoreError::Io {
            path: path(),
            source: std::io::Error::from_raw_os_error(errno),
        }),
        None => Ok(()),
    }
}

/// Opens `name` of `dir` read-only without following a link, and checks on
/// the descriptor that it is a regular file.
fn open_checked(
    dir: &OwnedFd,
    name: &str,
    path: &impl Fn() -> PathBuf,
) -> Result<(std::fs::File, rfs::Stat), StoreError> {
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

/// Appends a file that a folder listing gave as a regular file (a scan) to
/// `buf`. The listing's type stands for the `lstat` of [`open_regular`]
/// (the descriptor is still checked), and a file whose size is what
/// `fstat` said is read with one call: the usual end-of-file probe would
/// be a second. On an error, `buf` is left as it was.
pub(super) fn read_listed(
    dir: &OwnedFd,
    name: &str,
    buf: &mut Vec<u8>,
    path: impl Fn() -> PathBuf,
) -> Result<(), StoreError> {
    let start = buf.len();
    let read = read_listed_at(dir, name, buf, start, &path);
    if read.is_err() {
        buf.truncate(start);
    }
    read
}

fn read_listed_at(
    dir: &OwnedFd,
    name: &str,
    buf: &mut Vec<u8>,
    start: usize,
    path: &impl Fn() -> PathBuf,
) -> Result<(), StoreError> {
    #[cfg(test)]
    injected_fault(name, path)?;
    let (mut file, st) = open_checked(dir, name, path)?;
    let size = st.st_size as u64;
    if size > MAX_SESSION_FILE {
        return Err(StoreError::TooLarge { path: path() });
    }
    // One byte more than said, to see a file that grew.
    buf.resize(start + size as usize + 1, 0);
    let io = |source| StoreError::Io {
        path: path(),
        source,
    };
    let n = loop {
        match file.read(&mut buf[start..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    };
    buf.truncate(start + n);
    if n as u64 != size {
        // Shorter or longer than it said: read on to its end.
        (&mut file)
            .take(MAX_SESSION_FILE + 1 - n as u64)
            .read_to_end(buf)
            .map_err(io)?;
        if (buf.len() - start) as u64 > MAX_SESSION_FILE {
            return Err(StoreError::TooLarge { path: path() });
        }
    }
    Ok(())
}

/// Reads an open file whole (at most `max` bytes); `st` is its `fstat`.
fn read_open(
    mut file: &std::fs::File,
    st: &rfs::Stat,
    max: u64,
    path: &impl Fn() -> PathBuf,
) -> Result<(Vec<u8>, FileStamp), StoreError> {
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
    Ok((buf, FileStamp::of(st)))
}

/// Reads a regular file of `dir` (at most `max` bytes).
pub(super) fn read_regular(
    dir: &OwnedFd,
    name: &str,
    max: u64,
    path: impl Fn() -> PathBuf,
) -> Result<FileVersion, StoreError> {
    let (file, st) = open_regular(dir, name, &path)?;
    let (bytes, stamp) = read_open(&file, &st, max, &path)?;
    Ok(FileVersion {
        bytes,
        stamp,
        lease: None,
    })
}
