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
/// over by the service manager belongs to it and stays.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    owned: bool,
}

impl SocketGuard {
    pub fn path(&self) -> &Path {
        &self.path
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
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Binds the socket file: creates its folder (0750) if missing, removes a
/// stale socket left by a killed daemon, refuses if a daemon answers there.
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
        if dir.exists() && !trusted_folder(dir) {
            return Err(BindError::UntrustedFolder(dir.to_path_buf()));
        }
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .map_err(io_err)?;
            created_dir = Some(dir);
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
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
    if let Some(gid) = access.socket_group() {
        for p in created_dir.into_iter().chain([path]) {
            // Allowed for root, or when the daemon's user is in that group.
            if let Err(e) = std::os::unix::fs::chown(p, None, Some(gid)) {
                tracing::warn!(
                    "cannot give {} to group {gid}: {e}; its members cannot connect",
                    p.display()
                );
            }
        }
    }
    open_to_groups(path, created_dir, access);
    std_listener.set_nonblocking(true).map_err(io_err)?;
    let listener = UnixListener::from_std(std_listener).map_err(io_err)?;
    Ok((listener, guard))
}

/// A folder we may put the socket in: a real folder (not a symlink) of our
/// own user or root that not everyone may write to, or a shared sticky one
/// such as `/tmp`, where nobody else can remove or replace what we create.
fn trusted_folder(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    let me = rustix::process::geteuid().as_raw();
    let sticky = m.mode() & 0o1000 != 0;
    let world_writable = m.mode() & 0o002 != 0;
    m.is_dir() && (sticky || (!world_writable && (m.uid() == me || m.uid() == 0)))
}

/// Lets every configured group reach the socket (and a folder we created)
/// through ACL entries; says plainly who cannot when that fails.
pub fn open_to_groups(path: &Path, created_dir: Option<&Path>, access: &Access) {
    let groups = access.groups();
    if groups.is_empty() {
        return;
    }
    let socket = acl::grant(path, &groups, 6);
    let folder = created_dir.map_or(Ok(()), |d| acl::grant(d, &groups, 5));
    if let Err(e) = socket.and(folder) {
        let owner = access.socket_group();
        let left_out: Vec<String> = access
            .group_names()
            .into_iter()
            .filter(|(gid, _)| Some(*gid) != owner)
            .map(|(_, name)| name)
            .collect();
        if !left_out.is_empty() {
            tracing::warn!(
                "cannot add ACL entries to {} ({e}): members of {} alone cannot connect; give both roles one group, or use a file system with ACLs",
                path.display(),
                left_out.join(" and ")
            );
        }
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
        SocketGuard { path, owned: false },
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
