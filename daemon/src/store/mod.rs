//! [`SessionStore`]: every file operation on `MobileApps`, and nothing that
//! could reach outside it.
//!
//! Each operation opens the app folder with `O_NOFOLLOW | O_DIRECTORY` and
//! then works relative to that descriptor (`openat`, `renameat`, `unlinkat`),
//! so a symlink planted as an app folder or a session file is never followed,
//! even if it appears between a check and a use.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::session::{is_app_folder_name, is_plain_name, is_session_name};

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
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The `MobileApps` folder of one data dir.
#[derive(Debug, Clone)]
pub struct SessionStore {
    root: PathBuf,
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
        Ok(Self { root })
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

    /// The names in `dir` that `keep` accepts (by name and file type; a
    /// symlink's type is its own, so links are never taken for folders or files).
    fn list(
        dir: &Path,
        keep: impl Fn(&str, std::fs::FileType) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let kind = e.file_type().ok()?;
                keep(&name, kind).then_some(name)
            })
            .collect())
    }

    /// The app folders: real directories with plain, visible names. Symlinks
    /// are skipped; they may point anywhere.
    pub fn app_folders(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Self::list(&self.root, |n, t| is_app_folder_name(n) && t.is_dir())?;
        out.sort();
        Ok(out)
    }

    /// The session file names of one folder (hex names, regular files).
    pub fn session_names(&self, folder: &str) -> Result<Vec<String>, StoreError> {
        let path = self.checked_folder(folder)?;
        Self::list(&path, |n, t| is_session_name(n) && t.is_file())
    }

    /// Every app folder with its session file names.
    pub fn scan(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut out = Vec::new();
        for folder in self.app_folders()? {
            match self.session_names(&folder) {
                Ok(names) => out.push((folder, names)),
                // The folder went away during the scan: it simply has no sessions.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
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

    /// Reads one session file (never through a symlink, at most 1 MiB).
    pub fn read(&self, folder: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        self.read_in(&dir, folder, name)
    }

    /// Reads one session file of a folder opened with `open_folder`.
    pub fn read_in(&self, dir: &OwnedFd, folder: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        Self::check_name(name)?;
        let path = self.session_path(folder, name);
        let fd = rfs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| {
            if e == rustix::io::Errno::LOOP {
                StoreError::NotRegular { path: path.clone() }
            } else {
                Self::io(path.clone())(e)
            }
        })?;
        let st = rfs::fstat(&fd).map_err(Self::io(path.clone()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(StoreError::NotRegular { path });
        }
        if st.st_size as u64 > MAX_SESSION_FILE {
            return Err(StoreError::TooLarge { path });
        }
        let mut file = std::fs::File::from(fd);
        let mut buf = Vec::with_capacity(st.st_size as usize);
        // Read one byte past the limit so a file that grew is still caught.
        (&mut file)
            .take(MAX_SESSION_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        if buf.len() as u64 > MAX_SESSION_FILE {
            return Err(StoreError::TooLarge { path });
        }
        Ok(buf)
    }

    /// Replaces (or, with `create`, creates) a session file atomically: a
    /// temporary dot-file in the same folder, fsync, rename, fsync of the
    /// folder. A replaced file keeps its mode, and its owner where allowed;
    /// a new one is 0600. `create` refuses to replace an existing file.
    pub fn write_atomic(
        &self,
        folder: &str,
        name: &str,
        bytes: &[u8],
        create: bool,
    ) -> Result<(), StoreError> {
        Self::check_name(name)?;
        let dir = self.open_folder(folder)?;
        let path = self.session_path(folder, name);
        let old = match rfs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) if create => return Err(StoreError::Exists { path }),
            Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile => {
                return Err(StoreError::NotRegular { path });
            }
            Ok(st) => Some(st),
            Err(rustix::io::Errno::NOENT) if create => None,
            Err(e) => return Err(Self::io(path)(e)),
        };
        let tmp_name = format!(".{name}.{}.tmp", random_suffix());
        let tmp_path = self.session_path(folder, &tmp_name);
        let fd = rfs::openat(
            &dir,
            tmp_name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(Self::io(tmp_path.clone()))?;
        let result = (|| {
            if let Some(st) = &old {
                rfs::fchmod(&fd, Mode::from_raw_mode(st.st_mode & 0o7777))
                    .map_err(Self::io(tmp_path.clone()))?;
                // Only root may give a file away; elsewhere the owner stays ours.
                if rustix::process::geteuid().is_root() {
                    rfs::fchown(
                        &fd,
                        Some(rfs::Uid::from_raw(st.st_uid)),
                        Some(rfs::Gid::from_raw(st.st_gid)),
                    )
                    .map_err(Self::io(tmp_path.clone()))?;
                }
            }
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes)
                .and_then(|()| file.sync_all())
                .map_err(|source| StoreError::Io {
                    path: tmp_path.clone(),
                    source,
                })?;
            drop(file);
            if create {
                // Link, not rename: fails if a file of that name appeared meanwhile.
                rfs::linkat(&dir, tmp_name.as_str(), &dir, name, AtFlags::empty()).map_err(
                    |e| match e {
                        rustix::io::Errno::EXIST => StoreError::Exists { path: path.clone() },
                        e => Self::io(path.clone())(e),
                    },
                )?;
                rfs::unlinkat(&dir, tmp_name.as_str(), AtFlags::empty())
                    .map_err(Self::io(tmp_path.clone()))?;
            } else {
                rfs::renameat(&dir, tmp_name.as_str(), &dir, name)
                    .map_err(Self::io(path.clone()))?;
            }
            rfs::fsync(&dir).map_err(Self::io(self.root.join(folder)))
        })();
        if result.is_err() {
            // Best effort: never leave our temporary behind.
            let _ = rfs::unlinkat(&dir, tmp_name.as_str(), AtFlags::empty());
        }
        result
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

    /// Creates an app folder (0750) for a first sign-in.
    pub fn ensure_folder(&self, folder: &str) -> Result<(), StoreError> {
        let path = self.checked_folder(folder)?;
        let root = rfs::open(
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(Self::io(self.root.clone()))?;
        match rfs::mkdirat(&root, folder, Mode::from_raw_mode(0o750)) {
            Ok(()) => rfs::fsync(&root).map_err(Self::io(self.root.clone())),
            Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(Self::io(path)(e)),
        }
    }

    /// Reads the `application`/`team` of `manifest.json`, if any (read-only;
    /// used to name apps that have no sessions yet).
    pub fn manifest(&self, folder: &str) -> Option<serde_json::Value> {
        let dir = self.open_folder(folder).ok()?;
        let fd = rfs::openat(
            &dir,
            "manifest.json",
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .ok()?;
        let mut buf = Vec::new();
        std::fs::File::from(fd)
            .take(MAX_SESSION_FILE)
            .read_to_end(&mut buf)
            .ok()?;
        serde_json::from_slice(crate::session::strip_bom(&buf)).ok()
    }
}

use std::os::unix::fs::DirBuilderExt;

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

    #[test]
    fn atomic_replace_keeps_mode_and_leaves_no_temp() {
        let (_d, s) = store();
        let p = s.session_path("T.com.x", "abcd");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        s.write_atomic("T.com.x", "abcd", b"new", false).unwrap();
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
        assert!(s.write_atomic("T.com.x", "beef", b"x", false).is_err());
        assert!(matches!(
            s.write_atomic("T.com.x", "abcd", b"x", true),
            Err(StoreError::Exists { .. })
        ));
        s.write_atomic("T.com.x", "beef", b"x", true).unwrap();
        assert_eq!(
            std::fs::metadata(s.session_path("T.com.x", "beef"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
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
        assert!(s.write_atomic("T.com.evil", "abcd", b"x", false).is_err());
        assert!(s.delete("T.com.evil", "abcd").is_err());
        assert!(s.read("T.com.x", "beef").is_err());
        assert!(s.write_atomic("T.com.x", "beef", b"x", false).is_err());
        assert!(s.delete("T.com.x", "beef").is_err());
        assert_eq!(std::fs::read(outside.join("abcd")).unwrap(), b"secret");
        assert!(!s.app_folders().unwrap().contains(&"T.com.evil".to_string()));
        assert!(s.scan().unwrap().iter().all(|(_, names)| names.is_empty()));
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
}
