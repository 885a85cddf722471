//! Atomic and checked writes, in steps: a [`TempFile`] written and synced
//! beside the target (removed when dropped, unless it went into place),
//! then a link for a new file, or a checked replace — the same-version
//! check, a swap, the displaced version checked again, and put back when
//! another writer slipped in — then an fsync of the folder.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::read::FileVersion;
use super::{share, SessionStore, StoreError};
use crate::model::names::is_session_name;

/// The suffix of our atomic-write temporaries: `.<session id>.<12 hex>.tmp`.
pub const TEMP_SUFFIX: &str = ".tmp";

/// How [`SessionStore::write`] treats the file it writes.
#[derive(Debug, Clone, Copy)]
pub enum WriteMode<'a> {
    /// A new file (the store's file mode, its folder's group); fails with
    /// [`StoreError::Exists`] if the name is taken, even by a file that
    /// appears meanwhile.
    Create,
    /// Replaces the file, provided it is still the version read (same inode,
    /// same bytes); else fails with [`StoreError::Changed`] and writes nothing.
    ReplaceIfUnchanged(&'a FileVersion),
}

impl SessionStore {
    /// Writes a session file atomically (see [`WriteMode`]): a temporary
    /// dot-file in the same folder, fsync, then a link (create) or a checked
    /// rename (replace), then an fsync of the folder. A replaced file keeps
    /// its mode, and its owner where allowed (as root); a new one gets the
    /// store's file mode and its folder's group ([`super::share`]).
    ///
    /// The check of a replace: just before the rename, the file must still
    /// be the version that was read ([`FileVersion::is_current`]). Where the
    /// platform can (Linux `renameat2(RENAME_EXCHANGE)`, macOS
    /// `RENAME_SWAP`), the new file is *swapped* in and the file it
    /// displaced is checked again, so a writer that replaced or rewrote the
    /// file between the check and the swap is seen too, and the swap undone.
    /// Read with [`SessionStore::read_for_rewrite`], the file is also under
    /// a read lease (Linux): a writer that opens it, or held it open, is
    /// seen even if its bytes come late. ARCHITECTURE.md tells what remains.
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
        let perms = match existing(&dir, name, &path, mode)? {
            Some(old) => Perms::Like(old),
            None => Perms::New(self.file_mode),
        };
        let tmp = TempFile::write(&dir, &path, bytes, &perms)?;
        match mode {
            WriteMode::Create => tmp.link_as(name, &path)?,
            WriteMode::ReplaceIfUnchanged(read) => tmp.replace_checked(name, &path, read)?,
        }
        rfs::fsync(&dir).map_err(Self::io(self.root.join(folder)))
    }
}

/// What `name` holds before a write: nothing, for a new file; a regular
/// file, whose mode and owner the new version keeps, for a replace.
fn existing(
    dir: &OwnedFd,
    name: &str,
    path: &Path,
    mode: WriteMode<'_>,
) -> Result<Option<rfs::Stat>, StoreError> {
    match (mode, rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)) {
        (WriteMode::Create, Ok(_)) => Err(StoreError::Exists { path: path.into() }),
        (WriteMode::Create, Err(rustix::io::Errno::NOENT)) => Ok(None),
        (WriteMode::ReplaceIfUnchanged(_), Ok(st))
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile =>
        {
            Err(StoreError::NotRegular { path: path.into() })
        }
        (WriteMode::ReplaceIfUnchanged(_), Ok(st)) => Ok(Some(st)),
        (_, Err(e)) => Err(SessionStore::io(path.into())(e)),
    }
}

/// What the new version's mode, owner and group are.
enum Perms {
    /// Those of the file it replaces, as far as we may give them.
    Like(rfs::Stat),
    /// A new file's: this mode, and its folder's group ([`super::share`]).
    New(u32),
}

/// One of our temporaries, `.<id>.<12 hex>.tmp` beside the file it is
/// written for. Dropped while it is still ours, it is removed: whatever
/// step failed, no temporary is left behind.
struct TempFile<'d> {
    dir: &'d OwnedFd,
    name: String,
    path: PathBuf,
    /// Ours to remove: false once it went into place, or when it holds
    /// another writer's version that could not be put back.
    ours: bool,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.ours {
            let _ = rfs::unlinkat(self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}

impl<'d> TempFile<'d> {
    /// Creates the temporary for the file at `target` (0600, never over
    /// anything), gives it its permissions (`perms`), writes `bytes` and
    /// syncs them.
    fn write(
        dir: &'d OwnedFd,
        target: &Path,
        bytes: &[u8],
        perms: &Perms,
    ) -> Result<Self, StoreError> {
        let for_name = target.file_name().unwrap_or_default().to_string_lossy();
        let name = format!(".{for_name}.{}{TEMP_SUFFIX}", random_suffix());
        let path = target.with_file_name(&name);
        let fd = rfs::openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(SessionStore::io(path.clone()))?;
        let tmp = Self {
            dir,
            name,
            path,
            ours: true,
        };
        match perms {
            Perms::Like(st) => tmp.take_mode_and_owner(&fd, st)?,
            Perms::New(mode) => {
                share::new_file(&fd, dir, *mode).map_err(SessionStore::io(tmp.path.clone()))?
            }
        }
        #[cfg(test)]
        super::faults::fail_write(&for_name).map_err(|source| tmp.io_error(source))?;
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| tmp.io_error(source))?;
        Ok(tmp)
    }

    fn io_error(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The mode of the file it replaces, and its owner and group as far as
    /// we may give them.
    fn take_mode_and_owner(&self, fd: &OwnedFd, st: &rfs::Stat) -> Result<(), StoreError> {
        rfs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))
            .map_err(SessionStore::io(self.path.clone()))?;
        // Only root may give a file away. Elsewhere the owner stays ours,
        // but the group can be kept when we belong to it (the 4D server's
        // group, shared with the daemon's user).
        if rustix::process::geteuid().is_root() {
            rfs::fchown(
                fd,
                Some(rfs::Uid::from_raw(st.st_uid)),
                Some(rfs::Gid::from_raw(st.st_gid)),
            )
            .map_err(SessionStore::io(self.path.clone()))?;
        } else if rustix::process::getegid().as_raw() != st.st_gid {
            let _ = rfs::fchown(fd, None, Some(rfs::Gid::from_raw(st.st_gid)));
        }
        Ok(())
    }

    /// Puts it in place as the new file `name`: a link, not a rename, so it
    /// fails if a file of that name appeared meanwhile.
    fn link_as(self, name: &str, path: &Path) -> Result<(), StoreError> {
        rfs::linkat(
            self.dir,
            self.name.as_str(),
            self.dir,
            name,
            AtFlags::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::EXIST => StoreError::Exists { path: path.into() },
            e => SessionStore::io(path.into())(e),
        })
        // Dropped: the temporary name goes, the file stays under `name`.
    }

    /// Replaces `name` with it, provided `name` is still the version `read`.
    fn replace_checked(
        mut self,
        name: &str,
        path: &Path,
        read: &FileVersion,
    ) -> Result<(), StoreError> {
        let changed = || StoreError::Changed { path: path.into() };
        if !read.is_current(self.dir, name) {
            return Err(changed());
        }
        if !swap(self.dir, &self.name, name).map_err(SessionStore::io(path.into()))? {
            rfs::renameat(self.dir, self.name.as_str(), self.dir, name)
                .map_err(SessionStore::io(path.into()))?;
            self.ours = false;
            return Ok(());
        }
        // The temporary name now holds the version we displaced: ours to
        // remove if it is the one read.
        if read.is_current(self.dir, &self.name) {
            return Ok(());
        }
        self.restore_displaced(name, path)?;
        Err(changed())
    }

    /// Someone rewrote the file between the check and the swap: puts their
    /// version, now at the temporary name, back at `name` (ours, then at
    /// the temporary name, goes).
    fn restore_displaced(&mut self, name: &str, path: &Path) -> Result<(), StoreError> {
        if matches!(swap(self.dir, &self.name, name), Ok(true)) {
            return Ok(());
        }
        // Theirs is at the temporary name: never remove it.
        self.ours = false;
        let Err(e) = rfs::renameat(self.dir, self.name.as_str(), self.dir, name) else {
            return Ok(());
        };
        // Keep it under a name no clean-up removes.
        let saved = format!(".{name}.{}.saved", random_suffix());
        let kept = rfs::renameat(self.dir, self.name.as_str(), self.dir, saved.as_str());
        tracing::error!(
            "{}: another writer's version could not be put back ({e}); it is kept as {} ({})",
            path.display(),
            path.with_file_name(&saved).display(),
            if kept.is_ok() {
                "restore it by hand"
            } else {
                "and could not even be renamed: it is at the temporary name"
            }
        );
        Err(SessionStore::io(path.into())(e))
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
