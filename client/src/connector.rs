//! How a [`Client`](crate::Client) reaches the daemon: a [`Connector`]
//! yields byte streams ([`Transport`]s), and the pool shakes hands on each.
//! [`UnixConnector`] is the local socket (the default); `SshConnector`
//! (feature `ssh`) reaches a daemon on another host through the `ssh`
//! client. An embedder may bring its own.

use std::future::Future;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::pin::Pin;

use mobile_session_proto::paths::ClientSocket;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

use crate::ClientError;

/// A boxed future, as the [`Connector`] methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A byte stream to the daemon, before the handshake.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// Whether an idle stream may carry the next request: the peer has not
    /// closed it and nothing unasked-for waits in it. Called on idle
    /// streams only, so it must not block. The default, `true`, lets a dead
    /// stream be found when it is used (a request that never left, or an
    /// idempotent one, is then sent again on a new stream).
    fn is_reusable(&self) -> bool {
        true
    }
}

impl Transport for UnixStream {
    fn is_reusable(&self) -> bool {
        quiet(self.as_raw_fd())
    }
}

/// A stream a [`Connector`] opened.
pub struct Connected {
    pub stream: Box<dyn Transport>,
    /// The daemon's socket, when the connector knows it (the remote path
    /// for a daemon on another host); [`Client::socket_path`](crate::Client::socket_path)
    /// reports it.
    pub socket: Option<PathBuf>,
}

/// Opens streams to the daemon. The pool calls [`Connector::prepare`], then
/// [`Connector::connect`] and the handshake within the connect timeout.
pub trait Connector: Send + Sync + 'static {
    /// Whatever must happen once before streams can be opened and may take
    /// a person's time (an ssh login that asks for a password): it is not
    /// bounded by the connect timeout. The default does nothing.
    fn prepare(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Opens one stream.
    fn connect(&self) -> BoxFuture<'_, Result<Connected, ClientError>>;

    /// The socket to name before any connection was made.
    fn expected_socket(&self) -> PathBuf;

    /// The other host, as `ssh://user@host:port`, for a remote connector.
    fn host(&self) -> Option<String> {
        None
    }
}

/// Whether nothing waits to be read on `fd` and its peer has not closed it:
/// a poll that does not wait.
pub(crate) fn quiet(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, a zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n >= 0 {
            // Any event (data, end of stream, hang-up, error) means "not idle".
            return n == 0;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// The daemon's local socket: one path, or the per-user then the system
/// one (see [`mobile_session_proto::paths::client_socket`]).
#[derive(Debug, Clone)]
pub struct UnixConnector {
    socket: ClientSocket,
}

impl UnixConnector {
    pub fn new(socket: ClientSocket) -> Self {
        Self { socket }
    }

    /// Connects to the first path where a daemon listens, and says which.
    /// The paths are looked at anew each time: a daemon may have appeared
    /// at the per-user path since the last connection. When searching, a
    /// path without a daemon passes to the next; the error lists the paths
    /// tried.
    pub async fn connect_stream(&self) -> Result<(UnixStream, PathBuf), ClientError> {
        let search = matches!(self.socket, ClientSocket::Search(_));
        let mut tried: Vec<PathBuf> = Vec::new();
        // The error names the first stale socket file, else the first path.
        let mut missed: Option<(PathBuf, io::Error)> = None;
        for path in self.socket.to_try() {
            tried.push(path.to_path_buf());
            match UnixStream::connect(path).await {
                Ok(stream) => return Ok((stream, path.to_path_buf())),
                Err(e) if search && no_daemon(&e) => {
                    let stale = e.kind() == io::ErrorKind::ConnectionRefused;
                    let named_stale = missed
                        .as_ref()
                        .is_some_and(|(_, m)| m.kind() == io::ErrorKind::ConnectionRefused);
                    if missed.is_none() || (stale && !named_stale) {
                        missed = Some((path.to_path_buf(), e));
                    }
                }
                Err(e) => return Err(ClientError::connect(path, &tried, e)),
            }
        }
        let (path, e) = missed.unwrap_or_else(|| {
            // Only sockets that may not be trusted: none is tried.
            (
                self.expected_socket(),
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no trustworthy mobile-sessiond socket",
                ),
            )
        });
        Err(ClientError::connect(&path, &tried, e))
    }
}

impl Connector for UnixConnector {
    fn connect(&self) -> BoxFuture<'_, Result<Connected, ClientError>> {
        Box::pin(async {
            let (stream, path) = self.connect_stream().await?;
            Ok(Connected {
                stream: Box::new(stream),
                socket: Some(path),
            })
        })
    }

    fn expected_socket(&self) -> PathBuf {
        self.socket.pick().to_path_buf()
    }
}

/// A connect failure that means "no daemon here": no socket file, or a file
/// nobody listens on (left by a daemon that was killed).
fn no_daemon(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_stream_is_reusable_until_data_or_the_end_arrives() {
        let (a, mut b) = UnixStream::pair().unwrap();
        assert!(a.is_reusable());
        b.write_all(b"x").await.unwrap();
        assert!(!a.is_reusable(), "unread data");
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert!(!a.is_reusable(), "closed by the peer");
    }
}
