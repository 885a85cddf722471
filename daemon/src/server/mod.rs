//! The accept loop and one task per connection.
//!
//! Shutdown: the loop stops accepting when the token is cancelled; each
//! connection finishes the request it is handling, then closes; `serve`
//! returns once every connection task is done (or a grace period passed).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::traits::StreamCommon;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use mobile_session_proto::{
    ClientHello, Connection, ErrorCode, ErrorReply, FrameError, HelloOutcome, Request, Response,
    Role, ServerHello, MAGIC, MAX_REQUEST_FRAME, PROTOCOL_VERSION,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::Access;
use crate::state::State;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
}

/// Binds the socket file: creates its folder (0750) if missing, removes a
/// stale socket left by a killed daemon, refuses if a daemon answers there.
/// The socket is 0660; with `group`, the socket (and a folder we created)
/// belongs to that group, so its members can connect.
pub fn bind(path: &Path, group: Option<u32>) -> Result<Listener, BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut created_dir = None;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
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
    let name = path.to_fs_name::<GenericFilePath>().map_err(io_err)?;
    let listener = ListenerOptions::new()
        .name(name)
        .reclaim_name(true)
        .create_tokio()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                BindError::InUse(path.to_path_buf())
            } else {
                io_err(e)
            }
        })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
    if let Some(gid) = group {
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
    Ok(listener)
}

/// A listener handed over by the service manager (socket activation): it is
/// used as is and its socket file is never removed by us.
pub fn from_fd(fd: std::os::fd::OwnedFd) -> io::Result<Listener> {
    let mut l = interprocess::os::unix::uds_local_socket::tokio::Listener::try_from(fd)?;
    l.do_not_reclaim_name_on_drop();
    Ok(Listener::from(l))
}

pub async fn serve(
    listener: Listener,
    state: Arc<State>,
    access: Access,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let access = Arc::new(access);
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match stream {
            Ok(stream) => {
                let (state, access, shutdown) = (state.clone(), access.clone(), shutdown.clone());
                tracker.spawn(async move {
                    state.connections.fetch_add(1, Ordering::Relaxed);
                    handle_connection(stream, &state, &access, shutdown).await;
                    state.connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {SHUTDOWN_GRACE:?}");
    }
}

fn refused(reason: String) -> ServerHello {
    ServerHello {
        magic: MAGIC,
        protocol: PROTOCOL_VERSION,
        daemon_version: mobile_session_proto::VERSION.to_string(),
        outcome: HelloOutcome::Refused { reason },
    }
}

async fn handshake(
    conn: &mut Connection<Stream>,
    access: &Access,
    creds: (Option<u32>, Option<u32>),
) -> Option<Role> {
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, conn.recv::<ClientHello>()).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => {
            tracing::debug!("bad hello: {e}");
            let _ = conn
                .send(&refused(format!("not a mobile-session handshake: {e}")))
                .await;
            return None;
        }
        Err(_) => return None,
    };
    let outcome = if hello.magic != MAGIC {
        Err("not a mobile-session handshake (wrong magic number)".to_string())
    } else if hello.protocol != PROTOCOL_VERSION {
        Err(format!(
            "protocol version {} is not supported: mobile-sessiond {} speaks protocol {PROTOCOL_VERSION}; use a mobile-session client of the same release (client is {})",
            hello.protocol,
            mobile_session_proto::VERSION,
            hello.client_version
        ))
    } else {
        access.role_of(creds.0, creds.1)
    };
    match outcome {
        Ok(role) => {
            let welcome = ServerHello {
                magic: MAGIC,
                protocol: PROTOCOL_VERSION,
                daemon_version: mobile_session_proto::VERSION.to_string(),
                outcome: HelloOutcome::Welcome { role },
            };
            conn.send(&welcome).await.ok().map(|_| role)
        }
        Err(reason) => {
            tracing::warn!(uid = ?creds.0, "connection refused: {reason}");
            let _ = conn.send(&refused(reason)).await;
            None
        }
    }
}

async fn handle_connection(
    stream: Stream,
    state: &Arc<State>,
    access: &Access,
    shutdown: CancellationToken,
) {
    let creds = stream
        .peer_creds()
        .map(|c| (c.euid(), c.egid()))
        .unwrap_or((None, None));
    let mut conn = Connection::new(stream, MAX_REQUEST_FRAME);
    let Some(role) = handshake(&mut conn, access, creds).await else {
        return;
    };
    // One cancellation future for the connection's life, not one per request.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        let request = tokio::select! {
            biased;
            r = conn.recv::<Request>() => r,
            _ = &mut cancelled => break,
        };
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(FrameError::Io(_)) => break,
            Err(e) => {
                let message = match e {
                    FrameError::TooLong { max } => {
                        format!("request refused: larger than {max} bytes")
                    }
                    e => format!("request refused: {e}"),
                };
                tracing::warn!("closing a connection: {message}");
                let _ = conn
                    .send(&Response::Error(ErrorReply {
                        code: ErrorCode::BadRequest,
                        message,
                    }))
                    .await;
                break;
            }
        };
        if crate::cmd::writes(&request) && role != Role::Admin {
            let reply = Response::Error(ErrorReply {
                code: ErrorCode::PermissionDenied,
                message: "this command needs admin rights: run it as the daemon's user, root, or a member of admin_group".into(),
            });
            if conn.send(&reply).await.is_err() {
                break;
            }
            continue;
        }
        let more = match request {
            Request::Watch { .. } => {
                crate::cmd::watch::run(&mut conn, state, role, shutdown.clone()).await;
                false
            }
            Request::Sessions(filter) => {
                crate::cmd::sessions::run(&mut conn, state, role, filter).await
            }
            other => {
                let reply = crate::cmd::dispatch(state, role, other).await;
                let sent = conn.feed(&reply).await.is_ok();
                // Pipelined requests waiting: answer them before flushing.
                sent && (conn.has_complete_frame() || conn.flush().await.is_ok())
            }
        };
        if !more {
            break;
        }
    }
    let _ = conn.flush().await;
}
