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
    /// This user may not open the socket (`EACCES`). Members of `groups`
    /// may: the groups the socket's ACL names (the daemon's `admin_group`
    /// and `reader_group`), or, where the file system keeps no ACLs, the
    /// group that owns it. `owner` owns the socket (or its folder) and may
    /// connect too. Empty `groups` with an `owner`: the daemon lets in only
    /// its own user and root.
    #[error(
        "permission denied on the mobile-sessiond socket {}{}",
        path.display(),
        match groups.as_slice() {
            [] => String::new(),
            [one] => format!(" (group {one})"),
            many => format!(" (groups {})", many.join(", ")),
        }
    )]
    PermissionDenied {
        path: PathBuf,
        groups: Vec<String>,
        owner: Option<String>,
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
    /// The daemon on another host could not be reached: `ssh` failed, or
    /// the remote side could not reach the daemon there. `failure` says
    /// which; `message` is the first line of what ssh or the remote side
    /// said, `details` the rest (the remote side's hints, "hint: …").
    #[error("{}", remote_summary(host, *failure, message))]
    Remote {
        host: String,
        failure: RemoteFailure,
        message: String,
        details: Vec<String>,
    },
}

/// Why a daemon on another host could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteFailure {
    /// `ssh` could not connect (a wrong name, a host down or unreachable).
    Ssh,
    /// `ssh` connected but could not log in.
    Login,
    /// The remote side found no daemon (no socket, or nobody listens on it).
    NoDaemon,
    /// The remote user may not open the daemon's socket.
    PermissionDenied,
    /// The remote side has no `mobile-session` to connect through, and
    /// ssh's own socket forwarding did not reach the daemon either.
    NoRemoteProgram,
    /// Anything else (the remote side's exit status, when there is one).
    Other(Option<i32>),
}

fn remote_summary(host: &str, failure: RemoteFailure, message: &str) -> String {
    match failure {
        RemoteFailure::Ssh => format!("cannot reach {host} through ssh: {message}"),
        RemoteFailure::Login => format!("ssh could not log in to {host}: {message}"),
        _ => format!("on {host}: {message}"),
    }
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
    /// `Unreachable`, `EACCES` is `PermissionDenied` (naming the groups).
    pub(crate) fn connect(path: &Path, tried: &[PathBuf], source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::PermissionDenied {
            let access = crate::access::of_socket(path);
            return ClientError::PermissionDenied {
                path: path.to_path_buf(),
                groups: access.groups,
                owner: access.owner,
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
            FrameError::Io(source) => ClientError::lost(source),
            other => ClientError::Protocol(other.to_string()),
        }
    }

    /// A broken stream; a transport that knows why says so in the I/O
    /// error's payload (ssh refusing to forward to the remote socket).
    pub(crate) fn lost(source: io::Error) -> Self {
        #[cfg(feature = "ssh")]
        if let Some(refused) = source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::ssh::ForwardRefused>())
        {
            return refused.error();
        }
        ClientError::ConnectionLost { source }
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
    fn eacces_names_who_may_connect() {
        // "/" has no ACL of its own: no group, and root owns it.
        let e = ClientError::connect(
            Path::new("/"),
            &[],
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        match &e {
            ClientError::PermissionDenied { groups, owner, .. } => {
                assert!(groups.is_empty(), "{groups:?}");
                assert_eq!(owner.as_deref(), Some("root"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.to_string(),
            "permission denied on the mobile-sessiond socket /"
        );
    }
}
