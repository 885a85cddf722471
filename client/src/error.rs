//! [`ClientError`]: everything a call can fail with, each variant saying what
//! the caller can do about it. The underlying I/O error, when there is one,
//! is the [`source`](std::error::Error::source), not part of the message.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mobile_session_proto::{ErrorCode, ErrorReply, FrameError};

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No daemon answers at `path`: the socket file is missing, or it is a
    /// stale file nobody listens on. `tried` lists the paths the client
    /// tried, in order (one when `--socket`/`$MOBILE_SESSION_SOCKET` named
    /// it); `path` is the first stale one among them, else the first.
    /// Start the daemon, or point the client at the socket it listens on.
    #[error("cannot reach mobile-sessiond at {}", path.display())]
    Unreachable {
        path: PathBuf,
        tried: Vec<PathBuf>,
        #[source]
        source: io::Error,
    },
    /// This user may not open the socket (`EACCES`). `group` owns the socket
    /// (or its folder): members of it may connect.
    #[error(
        "permission denied on the mobile-sessiond socket {}{}",
        path.display(),
        group.as_ref().map(|g| format!(" (group {g})")).unwrap_or_default()
    )]
    PermissionDenied {
        path: PathBuf,
        group: Option<String>,
        #[source]
        source: io::Error,
    },
    /// The daemon refused this user at the handshake: it is neither the
    /// daemon's user, root, nor a member of `admin_group`/`reader_group`.
    /// `reason` comes from the daemon and says who may connect.
    #[error("mobile-sessiond refused the connection: {reason}")]
    Refused { reason: String },
    /// The daemon already serves as many connections as it may
    /// (`max_connections`). Try again later.
    #[error("mobile-sessiond is busy: {reason}")]
    Busy { reason: String },
    /// Connecting (with the handshake) or a request took longer than the
    /// timeout set on the [`ClientBuilder`](crate::ClientBuilder). The
    /// connection is closed; the next call opens a new one.
    #[error("mobile-sessiond did not answer within {after:?} ({what})")]
    Timeout { what: &'static str, after: Duration },
    /// The daemon answered with an error; [`ClientError::code`] tells which
    /// kind (not found, ambiguous, bad request, …) and the message says why.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    /// The peer does not speak this protocol: another program listens on
    /// the socket, or the daemon's version does not match this client's.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The request is larger than the daemon accepts (`max` bytes,
    /// [`MAX_REQUEST_FRAME`](mobile_session_proto::MAX_REQUEST_FRAME));
    /// nothing was sent.
    #[error("the request is larger than mobile-sessiond accepts ({max} bytes); nothing was sent")]
    TooLarge { max: usize },
    /// The connection broke while a request was under way (the daemon
    /// stopped or crashed) and the request could not be retried safely.
    #[error("connection to mobile-sessiond lost")]
    ConnectionLost {
        #[source]
        source: io::Error,
    },
}

impl ClientError {
    /// The daemon's error code, when the daemon answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Daemon(e) => Some(e.code),
            _ => None,
        }
    }

    /// How a connect failure reads: a missing or dead socket is
    /// `Unreachable`, `EACCES` is `PermissionDenied` (naming the group).
    pub(crate) fn connect(path: &Path, tried: &[PathBuf], source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::PermissionDenied {
            return ClientError::PermissionDenied {
                path: path.to_path_buf(),
                group: socket_group(path),
                source,
            };
        }
        ClientError::Unreachable {
            path: path.to_path_buf(),
            tried: tried.to_vec(),
            source,
        }
    }

    /// A framing failure: I/O means the connection broke, anything else
    /// means the bytes were not what this protocol sends.
    pub(crate) fn frame(e: FrameError) -> Self {
        match e {
            FrameError::Io(source) => ClientError::ConnectionLost { source },
            other => ClientError::Protocol(other.to_string()),
        }
    }

    pub(crate) fn closed() -> Self {
        ClientError::ConnectionLost {
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ),
        }
    }
}

/// The name of the group that owns the socket, else its folder (when the
/// folder itself cannot be entered, the socket cannot be stat'ed).
fn socket_group(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .ok()
        .or_else(|| std::fs::metadata(path.parent()?).ok())?;
    let gid = meta.gid();
    group_name(gid).or_else(|| Some(format!("gid {gid}")))
}

/// `getgrgid_r`, growing the buffer as the C library asks.
fn group_name(gid: u32) -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: every pointer is valid for the call; on success `result`
        // points to `grp`, whose strings live in `buf`, both alive here.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc =
            unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || grp.gr_name.is_null() {
            return None;
        }
        // SAFETY: gr_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(grp.gr_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_io_cause_is_the_source_not_the_message() {
        let e = ClientError::connect(
            Path::new("/nowhere/x.sock"),
            &[PathBuf::from("/nowhere/x.sock")],
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(matches!(e, ClientError::Unreachable { .. }));
        assert_eq!(
            e.to_string(),
            "cannot reach mobile-sessiond at /nowhere/x.sock"
        );
        assert!(e.source().is_some());
    }

    #[test]
    fn eacces_names_the_group() {
        // Root's group owns "/" everywhere this runs.
        let e = ClientError::connect(
            Path::new("/"),
            &[],
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        match &e {
            ClientError::PermissionDenied { group: Some(g), .. } => {
                assert!(g == "root" || g == "wheel" || g.starts_with("gid "), "{g}")
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("(group "), "{e}");
    }
}
