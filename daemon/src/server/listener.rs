//! The listening socket: bound by the daemon at a path, or handed over by
//! the service manager (socket activation). [`SocketGuard`] removes a socket
//! file the daemon bound when it stops — never one it was handed.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use super::access::Access;
use super::acl;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another mobile-sessiond is already listening on {0}; stop it first (or pick another --socket)")]
    InUse(PathBuf),
    #[error(
        "{0} exists and is not a socket; it is left alone — remove it or pick another --socket"
    )]
    NotASocket(PathBuf),
    #[error("cannot listen on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the socket's folder {0} is not a folder of this user or root (another user could replace the socket, or read what clients send); remove it or pick another --socket")]
    UntrustedFolder(PathBuf),
}

/// Removes the socket file the daemon bound when dropped. A socket handed
/// over by the service manager belongs to it and stays. Drop it before the
/// listener: the file goes first, so a daemon started meanwhile never finds
/// it stale and binds its own that this one would then remove.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    owned: bool,
    /// The (device, inode) of the socket file the daemon bound.
    bound: Option<(u64, u64)>,
    /// The socket's folder, when the daemon created it (and so may set its
    /// group and ACL entries).
    created_dir: Option<PathBuf>,
}

impl SocketGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket's folder if the daemon created it: the only folder whose
    /// permissions are the daemon's business.
    pub fn created_dir(&self) -> Option<&Path> {
        self.created_dir.as_deref()
    }

    /// False for a socket handed over by the service manager.
    pub fn owned(&self) -> bool {
        self.owned
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Only the file we bound: someone may have put another daemon's
        // socket at the path meanwhile. The listener, still open (it is
        // dropped after the guard), keeps our file's inode from being reused,
        // so the comparison is exact.
        if self.bound.is_some() && file_id(&self.path) != self.bound {
            tracing::info!(
                "{} is another daemon's socket now: left in place",
                self.path.display()
            );
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// A file's (device, inode), without following a symlink.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Binds the socket file: creates its folder (0750) if missing, refuses a
/// folder another user could tamper with, removes a stale socket left by a
/// killed daemon, refuses if a daemon answers there.
/// The socket is 0660. It belongs to `reader_group` (else `admin_group`),
/// and each configured group gets an ACL entry of its own on the socket and
/// on a folder we created, so members of either group can connect.
pub fn bind(path: &Path, access: &Access) -> Result<(UnixListener, SocketGuard), BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut created_dir = None;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let dir_err = |source| BindError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if create_folder(dir).map_err(dir_err)? {
            // The mode asked for at creation went through the umask.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))
                .map_err(dir_err)?;
            created_dir = Some(dir);
        }
        // Checked whoever made it: someone may have made it (or a symlink)
        // first, even between our look and our mkdir.
        if !trusted_folder(dir) {
            return Err(BindError::UntrustedFolder(dir.to_path_buf()));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(BindError::NotASocket(path.to_path_buf()));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(BindError::InUse(path.to_path_buf())),
            Err(e)
                if e.kind() == io::ErrorKind::ConnectionRefused
                    || e.kind() == io::ErrorKind::NotFound =>
            {
                tracing::info!(socket = %path.display(), "removing stale socket file");
                let _ = std::fs::remove_file(path);
            }
            Err(e) => return Err(io_err(e)),
        }
    }
    let std_listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            BindError::InUse(path.to_path_buf())
        } else {
            io_err(e)
        }
    })?;
    let guard = SocketGuard {
        path: path.to_path_buf(),
        owned: true,
        bound: file_id(path),
        created_dir: created_dir.map(Path::to_path_buf),
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
    if let Some(gid) = access.socket_group() {
        for p in created_dir.into_iter().chain([path]) {
            // Allowed for root, or when the daemon's user is in that group.
            // Failing, it keeps the daemon's group; `open_to_groups` says
            // who cannot connect then.
            if let Err(e) = std::os::unix::fs::chown(p, None, Some(gid)) {
                tracing::info!(
                    "cannot give {} to group {}: {e}; it keeps its group",
                    p.display(),
                    group_name(gid)
                );
            }
        }
    }
    open_to_groups(path, created_dir, access);
    std_listener.set_nonblocking(true).map_err(io_err)?;
    let listener = UnixListener::from_std(std_listener).map_err(io_err)?;
    Ok((listener, guard))
}

/// Creates the socket's folder (0750 before the umask) and its missing
/// parents; true if this call created the folder itself, false if it was
/// there. The last step is a plain `mkdir`, so a folder someone else makes
/// first is seen as found, not taken for ours.
fn create_folder(dir: &Path) -> io::Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o750).create(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// A folder we may put the socket in: a real folder (not a symlink) of our
/// own user or root, that not everyone may write to unless it is sticky
/// (such as `/tmp`, where nobody else may remove or replace what we create).
/// A sticky folder of another user will not do: its owner may.
fn trusted_folder(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    let me = rustix::process::geteuid().as_raw();
    let sticky = m.mode() & 0o1000 != 0;
    let world_writable = m.mode() & 0o002 != 0;
    m.is_dir() && (m.uid() == me || m.uid() == 0) && (sticky || !world_writable)
}

/// Lets every configured group reach the socket (and a folder we created)
/// through ACL entries; says plainly who cannot when that fails.
pub fn open_to_groups(path: &Path, created_dir: Option<&Path>, access: &Access) {
    let groups = access.groups();
    if groups.is_empty() {
        return;
    }
    let socket = acl::grant(path, &groups, 6).err().map(|e| (path, e));
    let folder = created_dir.and_then(|d| acl::grant(d, &groups, 5).err().map(|e| (d, e)));
    let failed: Vec<(&Path, io::Error)> = socket.into_iter().chain(folder).collect();
    let Some((first, e)) = failed.first() else {
        return;
    };
    // Without its entry a group gets in as the files' own group only: the
    // group they really have (the service manager's choice for a socket it
    // made, the daemon's own when giving them away failed).
    let gids: Vec<Option<u32>> = failed.iter().map(|(p, _)| file_gid(p)).collect();
    let out = left_out(&access.group_names(), &gids);
    if out.is_empty() {
        return;
    }
    let owner = match file_gid(path) {
        Some(gid) => format!("group {}", group_name(gid)),
        None => "a group that cannot be read".to_string(),
    };
    tracing::warn!(
        "cannot add ACL entries to {} ({e}): members of {} cannot connect unless they are also in {owner}, the socket's group; add them to it, or use a file system with ACLs",
        first.display(),
        out.join(" and ")
    );
}

/// The group of a file, as the file system says.
fn file_gid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.gid())
}

/// The configured groups (gid, name) that are not the group of every file
/// in `gids` (`None`: unknown), hence cannot pass without an ACL entry.
fn left_out(groups: &[(u32, String)], gids: &[Option<u32>]) -> Vec<String> {
    groups
        .iter()
        .filter(|(gid, _)| gids.iter().any(|g| *g != Some(*gid)))
        .map(|(_, name)| name.clone())
        .collect()
}

/// A group's name, or its number when it has none.
fn group_name(gid: u32) -> String {
    match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => gid.to_string(),
    }
}

/// A listener handed over by the service manager (socket activation): used
/// as is, its socket file never removed by us. The guard carries the path it
/// is bound to (for `status`), or `fallback` if that cannot be read.
pub fn from_fd(
    fd: std::os::fd::OwnedFd,
    fallback: &Path,
) -> io::Result<(UnixListener, SocketGuard)> {
    let path = bound_path(&fd).unwrap_or_else(|| fallback.to_path_buf());
    let std_listener = std::os::unix::net::UnixListener::from(fd);
    std_listener.set_nonblocking(true)?;
    Ok((
        UnixListener::from_std(std_listener)?,
        SocketGuard {
            path,
            owned: false,
            bound: None,
            created_dir: None,
        },
    ))
}

/// The file path a Unix socket is bound to.
fn bound_path(fd: &std::os::fd::OwnedFd) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    // SAFETY: sockaddr_un is plain data; getsockname writes at most `len` bytes.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut addr as *mut libc::sockaddr_un).cast(),
            &mut len,
        )
    };
    if rc != 0 || addr.sun_family != libc::AF_UNIX as libc::sa_family_t {
        return None;
    }
    let offset = std::mem::size_of::<libc::sa_family_t>();
    let n = (len as usize).checked_sub(offset)?.min(addr.sun_path.len());
    let bytes: Vec<u8> = addr.sun_path[..n]
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    if bytes.is_empty() {
        return None; // unnamed or abstract
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_left_out_follows_the_files_real_group() {
        let groups = [(10, "admins".to_string()), (20, "readers".to_string())];
        // The socket went to reader_group: admin_group is left out.
        assert_eq!(left_out(&groups, &[Some(20)]), ["admins"]);
        // The service manager's group, or the daemon's own after a failed
        // chown: both are.
        assert_eq!(left_out(&groups, &[Some(99)]), ["admins", "readers"]);
        assert_eq!(left_out(&groups, &[None]), ["admins", "readers"]);
        // A group must be the group of every file it lacks an entry on.
        assert_eq!(
            left_out(&groups, &[Some(20), Some(99)]),
            ["admins", "readers"]
        );
        assert!(left_out(&groups[1..], &[Some(20), Some(20)]).is_empty());
    }

    #[test]
    fn group_names_come_from_the_group_database() {
        assert_eq!(
            group_name(0),
            if cfg!(target_os = "linux") {
                "root"
            } else {
                "wheel"
            }
        );
        assert_eq!(group_name(3_999_999_999), "3999999999");
    }

    #[tokio::test]
    async fn a_socket_another_daemon_took_over_is_left_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let access = Access::new(None, None).unwrap();
        let path = dir.path().join("s.sock");
        let (old_listener, old) = bind(&path, &access).unwrap();
        // Someone removes the running daemon's socket file and starts
        // another daemon at the same path.
        std::fs::remove_file(&path).unwrap();
        let (new_listener, new) = bind(&path, &access).unwrap();
        // The first one stops: guard first, then its listener.
        drop(old);
        drop(old_listener);
        assert!(path.exists(), "the old daemon removed the new one's socket");
        std::os::unix::net::UnixStream::connect(&path).expect("the new daemon is reachable");
        drop(new);
        drop(new_listener);
        assert!(!path.exists(), "a daemon leaves its own socket behind");
    }

    #[tokio::test]
    async fn a_folder_another_user_may_change_is_refused_even_if_sticky() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let access = Access::new(None, None).unwrap();
        let folder = |name: &str, mode: u32| {
            let d = dir.path().join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            d
        };
        // Ours and sticky, as /tmp is root's: nobody else may replace the socket.
        assert!(bind(&folder("sticky", 0o1777).join("s.sock"), &access).is_ok());
        let open = folder("open", 0o777);
        assert!(matches!(
            bind(&open.join("s.sock"), &access),
            Err(BindError::UntrustedFolder(_))
        ));
        // Another user's folder, sticky or not: its owner may replace it.
        if rustix::process::geteuid().is_root() {
            for (name, mode) in [("theirs-sticky", 0o1777), ("theirs", 0o755)] {
                let d = folder(name, mode);
                std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
                assert!(
                    matches!(
                        bind(&d.join("s.sock"), &access),
                        Err(BindError::UntrustedFolder(_))
                    ),
                    "{name}"
                );
            }
        } else {
            eprintln!("not checked: a folder of another user (needs root to make one)");
        }
    }

    #[tokio::test]
    async fn the_guard_knows_which_folder_the_daemon_created() {
        let dir = tempfile::tempdir().unwrap();
        let access = Access::new(None, None).unwrap();
        let made = dir.path().join("made").join("s.sock");
        let (_l, guard) = bind(&made, &access).unwrap();
        assert_eq!(guard.created_dir(), made.parent());
        let found = dir.path().join("s.sock");
        let (_l, guard) = bind(&found, &access).unwrap();
        assert_eq!(guard.created_dir(), None);
    }
}
