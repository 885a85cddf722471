//! The connections behind a [`Client`](crate::Client): opening one (the
//! search for a daemon, the handshake), lending idle ones out, and one
//! request's exchange with its timeout and its one safe retry.
//!
//! A call whose future is dropped half-way (a cancelled request handler)
//! drops its connection instead of putting it back: a half-read answer must
//! never reach the next caller.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mobile_session_proto::{FrameError, Request, Response, Role, VerifyReply};
use tokio::sync::Semaphore;

use crate::builder::ClientBuilder;
use crate::conn::{self, unexpected, Answer, Conn, Failure, Pages};
use crate::{ClientError, Connector};

pub(crate) struct Pool {
    connector: Arc<dyn Connector>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    long_request_timeout: Option<Duration>,
    pub max_connections: usize,
    /// One permit per connection that may be open (idle or in use).
    permits: Semaphore,
    /// Idle connections, most recently used last.
    idle: Mutex<Vec<Conn>>,
    pub last: Mutex<Last>,
}

/// What the latest handshake said.
pub(crate) struct Last {
    pub path: PathBuf,
    pub role: Option<Role>,
    pub daemon_version: Option<String>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; recover anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn within<T>(
    limit: Option<Duration>,
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match limit {
        None => fut.await,
        Some(after) => tokio::time::timeout(after, fut)
            .await
            .unwrap_or(Err(ClientError::Timeout { what, after })),
    }
}

impl Pool {
    pub fn new(b: ClientBuilder) -> Self {
        let path = b.connector.expected_socket();
        Self {
            permits: Semaphore::new(b.max_connections),
            connector: b.connector,
            connect_timeout: b.connect_timeout,
            request_timeout: b.request_timeout,
            long_request_timeout: b.long_request_timeout,
            max_connections: b.max_connections,
            idle: Mutex::new(Vec::new()),
            last: Mutex::new(Last {
                path,
                role: None,
                daemon_version: None,
            }),
        }
    }

    pub fn idle_count(&self) -> usize {
        lock(&self.idle).len()
    }

    pub fn timeouts(&self) -> [Option<Duration>; 3] {
        [
            self.connect_timeout,
            self.request_timeout,
            self.long_request_timeout,
        ]
    }

    pub fn host(&self) -> Option<String> {
        self.connector.host()
    }

    /// Opens a new connection, and shakes hands. What the connector must do
    /// first (an ssh login) is not bounded by the connect timeout; the
    /// stream and the handshake are.
    pub async fn open(&self) -> Result<Conn, ClientError> {
        self.connector.prepare().await?;
        within(self.connect_timeout, "connect", async {
            let connected = self.connector.connect().await?;
            let not_ours = match (&connected.socket, self.connector.host()) {
                (_, Some(host)) => {
                    format!("the connection to {host} does not lead to mobile-sessiond")
                }
                (Some(path), None) => format!("{} is not a mobile-sessiond socket", path.display()),
                (None, None) => "the connection does not lead to mobile-sessiond".to_string(),
            };
            let conn = conn::handshake(connected.stream, &not_ours).await?;
            let mut last = lock(&self.last);
            if let Some(path) = connected.socket {
                last.path = path;
            }
            last.role = Some(conn.role);
            last.daemon_version = Some(conn.daemon_version.clone());
            Ok(conn)
        })
        .await
    }

    /// An idle connection that is still open, if any.
    pub fn checkout_idle(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        while let Some(conn) = idle.pop() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    pub fn checkin(&self, conn: Conn) {
        lock(&self.idle).push(conn);
    }

    /// An idle connection, or a new one; and whether it was idle.
    async fn checkout(&self) -> Result<(Conn, bool), ClientError> {
        match self.checkout_idle() {
            Some(c) => Ok((c, true)),
            None => Ok((self.open().await?, false)),
        }
    }

    /// Waits for a free place in the pool.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ClientError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| ClientError::Protocol("the client was shut down".into()))
    }

    /// The time `req` is allowed: whether its cost grows with the data
    /// decides which of the two limits applies.
    fn limit_for(&self, req: &Request) -> Option<Duration> {
        match req.scales_with_data() {
            true => self.long_request_timeout,
            false => self.request_timeout,
        }
    }

    /// One request with its whole answer. A pooled connection that turns out
    /// to be dead (the daemon restarted since it was last used) is replaced
    /// by a fresh one and the request sent again, when that is safe: the
    /// request never left, or sending it twice changes nothing.
    pub async fn roundtrip(&self, req: &Request) -> Result<Answer, ClientError> {
        self.roundtrip_pages(req, None).await
    }

    /// [`Self::roundtrip`], the pages of a listing handed to `pages` as
    /// they come.
    pub async fn roundtrip_pages(
        &self,
        req: &Request,
        mut pages: Option<Pages<'_>>,
    ) -> Result<Answer, ClientError> {
        within(self.limit_for(req), "request", async {
            let _permit = self.permit().await?;
            let (mut conn, reused) = self.checkout().await?;
            let sink = pages.as_mut().map(|p| &mut **p as Pages<'_>);
            let exchanged = conn.exchange(req, sink).await;
            match self.checkin_if_in_step(conn, exchanged) {
                Ok(answer) => Ok(answer),
                Err(Failure::NotSent(_)) if reused => self.retry(req, pages).await,
                Err(Failure::NoAnswer(_)) if reused && req.idempotent() => {
                    self.retry(req, pages).await
                }
                Err(f) => Err(f.into_error()),
            }
        })
        .await
    }

    async fn retry(&self, req: &Request, pages: Option<Pages<'_>>) -> Result<Answer, ClientError> {
        let mut conn = self.open().await?;
        let exchanged = conn.exchange(req, pages).await;
        self.checkin_if_in_step(conn, exchanged)
            .map_err(Failure::into_error)
    }

    /// Puts `conn` back in the pool after an answer, or an error answer
    /// (which leaves the connection in step too); else drops it.
    fn checkin_if_in_step(
        &self,
        conn: Conn,
        exchanged: Result<Answer, Failure>,
    ) -> Result<Answer, Failure> {
        if matches!(
            exchanged,
            Ok(_) | Err(Failure::Final(ClientError::Daemon(_)))
        ) {
            self.checkin(conn);
        }
        exchanged
    }

    pub async fn one(&self, req: &Request) -> Result<Response, ClientError> {
        match self.roundtrip(req).await? {
            Answer::One(r) => Ok(r),
            Answer::Rows(rows) => Ok(Response::SessionsPage { rows, done: true }),
        }
    }

    /// `verify` requests pipelined on one connection, under one request
    /// timeout. `verify` only reads: a pooled connection found dead is
    /// replaced and the batch sent again.
    pub async fn verify_pipelined(
        &self,
        requests: &[Request],
    ) -> Result<Vec<VerifyReply>, ClientError> {
        within(self.request_timeout, "request", async {
            let _permit = self.permit().await?;
            let (conn, reused) = self.checkout().await?;
            match self.pipeline(conn, requests).await {
                Err(ClientError::ConnectionLost { .. }) if reused => {
                    self.pipeline(self.open().await?, requests).await
                }
                other => other,
            }
        })
        .await
    }

    /// Pipelined `verify` on `conn`, returned to the pool when all answers are in.
    async fn pipeline(
        &self,
        mut conn: Conn,
        requests: &[Request],
    ) -> Result<Vec<VerifyReply>, ClientError> {
        let mut daemon_error = None;
        let answers = conn
            .framed
            .pipeline(requests, |r: Response| match r {
                Response::Verified(v) => Ok(v),
                other => {
                    daemon_error = Some(unexpected(other));
                    Err(FrameError::Decode("unexpected answer to verify".into()))
                }
            })
            .await;
        if let Some(e) = daemon_error {
            return Err(e);
        }
        let answers = answers.map_err(ClientError::frame)?;
        self.checkin(conn);
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;
    use mobile_session_proto::paths::ClientSocket;

    /// A folder of its own under the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            // A folder of this user's, not writable by others: trusted even
            // under a shared /tmp.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn a_search_passes_sockets_without_a_daemon_and_names_the_stale_one() {
        let dir = TempDir::new("mobile-session-search");
        let missing = dir.0.join("missing.sock");
        let stale = dir.0.join("stale.sock");
        // Bound, then closed: the file stays, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let client = Client::builder()
            .socket_choice(ClientSocket::Search(vec![missing.clone(), stale.clone()]))
            .build();
        match client.status().await {
            Err(ClientError::Unreachable { path, tried, .. }) => {
                assert_eq!(path, stale);
                assert_eq!(tried, [missing, stale.clone()]);
            }
            other => panic!("{other:?}"),
        }
        // An explicit path is the only one tried.
        let explicit = Client::builder().socket(&stale).build();
        match explicit.status().await {
            Err(ClientError::Unreachable { path, tried, .. }) => {
                assert_eq!(path, stale);
                assert_eq!(tried, [stale]);
            }
            other => panic!("{other:?}"),
        }
    }
}
