//! The streams an [`SshConnector`](super::SshConnector) yields: the pipes
//! of an `ssh … mobile-session dial-stdio` process, or a local socket that
//! ssh forwards to the daemon's socket on the other host.

use std::io;
use std::os::unix::io::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::master::Master;
use crate::connector::quiet;
use crate::{ClientError, RemoteFailure, Transport};

/// `AsyncWrite::poll_flush` and `poll_shutdown`, passed on to a field.
macro_rules! flush_and_shutdown_of {
    ($field:ident) => {
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.$field).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.$field).poll_shutdown(cx)
        }
    };
}

/// `ssh HOST mobile-session dial-stdio`: its stdout is the daemon's
/// answers, its stdin our requests. Dropping it kills that ssh process
/// (one channel of the shared connection, when there is one).
pub(crate) struct PipeStream {
    pub stdin: ChildStdin,
    pub stdout: BufReader<ChildStdout>,
    pub _child: Child,
    /// Keeps the shared connection up while this stream uses it.
    pub _master: Option<Arc<Master>>,
}

impl AsyncRead for PipeStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for PipeStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    flush_and_shutdown_of!(stdin);
}

impl Transport for PipeStream {
    fn is_reusable(&self) -> bool {
        self.stdout.buffer().is_empty() && quiet(self.stdout.get_ref().as_raw_fd())
    }
}

/// A local socket that ssh forwards to the daemon's socket over there. ssh
/// opens the remote end only when this one connects, and closes this one
/// when it cannot: a stream closed before its first byte is that failure,
/// and reads as [`ForwardRefused`] rather than as a daemon gone.
pub(crate) struct ForwardStream {
    pub stream: UnixStream,
    pub refused: Option<ForwardRefused>,
    pub _master: Arc<Master>,
}

/// Why a forwarded stream closed at once, as an I/O error's payload (the
/// handshake turns it into [`ClientError::Remote`]).
#[derive(Debug, Clone)]
pub(crate) struct ForwardRefused {
    pub host: String,
    pub message: String,
    pub details: Vec<String>,
}

impl std::fmt::Display for ForwardRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ForwardRefused {}

impl ForwardRefused {
    pub fn error(&self) -> ClientError {
        ClientError::Remote {
            host: self.host.clone(),
            failure: RemoteFailure::NoRemoteProgram,
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

impl ForwardStream {
    /// Until the first byte arrives, an end or a reset is ssh's refusal.
    fn refusal(&mut self, e: Option<io::Error>) -> io::Error {
        match self.refused.take() {
            Some(r) => io::Error::new(io::ErrorKind::ConnectionRefused, r),
            None => e.unwrap_or_else(|| io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

impl AsyncRead for ForwardStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && self.refused.is_some() => {
                Poll::Ready(Err(self.refusal(None)))
            }
            Poll::Ready(Ok(())) => {
                self.refused = None;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if self.refused.is_some() => {
                Poll::Ready(Err(self.refusal(Some(e))))
            }
            other => other,
        }
    }
}

impl AsyncWrite for ForwardStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(Err(e)) if self.refused.is_some() => {
                Poll::Ready(Err(self.refusal(Some(e))))
            }
            other => other,
        }
    }

    flush_and_shutdown_of!(stream);
}

impl Transport for ForwardStream {
    fn is_reusable(&self) -> bool {
        self.stream.is_reusable()
    }
}

/// The remote side's or ssh's words as an error: the line that says what
/// went wrong (the remote side's `error: …`, else ssh's last line), and
/// the remote side's hints.
pub(crate) fn remote_error(
    host: &str,
    failure: RemoteFailure,
    text: &str,
    fallback: &str,
) -> ClientError {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let error_at = lines.iter().position(|l| l.starts_with("error: "));
    let message = match error_at {
        Some(i) => lines[i].trim_start_matches("error: ").to_string(),
        None => lines
            .last()
            .map_or(fallback.to_string(), |l| l.trim().to_string()),
    };
    let details = match error_at {
        Some(i) => lines[i + 1..].iter().map(|l| l.to_string()).collect(),
        None => Vec::new(),
    };
    ClientError::Remote {
        host: host.to_string(),
        failure,
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_error_line_and_its_hints_are_kept_apart() {
        let text = "Warning: Permanently added '[127.0.0.1]:2222' to the list of known hosts.\n\
            error: permission denied on the mobile-sessiond socket /run/m.sock (group adm)\n\
            hint: members of group adm may use mobile-sessiond\n";
        match remote_error("ssh://h", RemoteFailure::PermissionDenied, text, "x") {
            ClientError::Remote {
                message, details, ..
            } => {
                assert_eq!(
                    message,
                    "permission denied on the mobile-sessiond socket /run/m.sock (group adm)"
                );
                assert_eq!(
                    details,
                    ["hint: members of group adm may use mobile-sessiond"]
                );
            }
            other => panic!("{other:?}"),
        }
        let ssh = "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n";
        let e = remote_error("ssh://127.0.0.1:1", RemoteFailure::Ssh, ssh, "x");
        assert_eq!(
            e.to_string(),
            "cannot reach ssh://127.0.0.1:1 through ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused"
        );
        let e = remote_error("ssh://h", RemoteFailure::Other(Some(1)), "", "it ended");
        assert_eq!(e.to_string(), "on ssh://h: it ended");
    }
}
