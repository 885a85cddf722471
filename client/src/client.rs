//! [`Client`]: a cheaply cloneable handle over a small pool of connections.
//!
//! Every call checks one idle connection out (or opens one), makes its
//! request and puts the connection back once the whole answer is in. A call
//! whose future is dropped half-way (a cancelled request handler) drops its
//! connection instead: a half-read answer must never reach the next caller.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mobile_session_proto::paths::{client_socket, ClientSocket};
use mobile_session_proto::{
    AppRow, AuthReply, ChangeReport, ChangedSession, DaemonStatus, FrameError, PushReport, Request,
    Response, Role, SessionFilter, SessionRow, Status, VerifyReply, MAX_REQUEST_FRAME,
    MAX_TOKEN_LEN,
};
use tokio::sync::Semaphore;

use crate::conn::{self, unexpected, Answer, Conn, Failure};
use crate::{ClientError, EventStream};

/// Default time allowed to connect and shake hands.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one request's whole answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of connections one handle (and its clones) opens at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// Configures a [`Client`]: where the daemon is, timeouts, pool size.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    socket: ClientSocket,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    max_connections: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// Finds the daemon as the command line does: `$MOBILE_SESSION_SOCKET`,
    /// else the per-user socket, else the system one (the first where a
    /// daemon answers).
    pub fn new() -> Self {
        Self {
            socket: client_socket(None),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Uses this socket and no other.
    pub fn socket(mut self, path: impl AsRef<Path>) -> Self {
        self.socket = ClientSocket::Explicit(path.as_ref().to_path_buf());
        self
    }

    /// Where to look for the daemon, as [`mobile_session_proto::paths::client_socket`] resolves it.
    pub fn socket_choice(mut self, socket: ClientSocket) -> Self {
        self.socket = socket;
        self
    }

    /// Time allowed to connect and shake hands (default 5 s; `None`: no limit).
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Time allowed for one request, from checking a connection out to the
    /// last byte of the answer (default 30 s; `None`: no limit). `watch`
    /// streams have none.
    pub fn request_timeout(mut self, t: Option<Duration>) -> Self {
        self.request_timeout = t;
        self
    }

    /// Connections open at once, idle ones included (default 8, at least 1).
    /// More concurrent calls wait for a free one. `watch` streams have their
    /// own connections and do not count.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// A handle that connects on its first call (no I/O here).
    pub fn build(self) -> Client {
        let path = self.socket.pick().to_path_buf();
        Client {
            inner: Arc::new(Inner {
                permits: Semaphore::new(self.max_connections),
                socket: self.socket,
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                max_connections: self.max_connections,
                idle: Mutex::new(Vec::new()),
                last: Mutex::new(Last {
                    path,
                    role: None,
                    daemon_version: None,
                }),
            }),
        }
    }

    /// Connects now, so that a missing daemon or a refusal shows at once.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let client = self.build();
        let conn = client.inner.open().await?;
        client.inner.checkin(conn);
        Ok(client)
    }
}

/// A handle to `mobile-sessiond`. Clone it freely: clones share one pool of
/// connections, and every method takes `&self`, so one handle serves any
/// number of tasks at once (see the crate documentation).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    socket: ClientSocket,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    max_connections: usize,
    /// One permit per connection that may be open (idle or in use).
    permits: Semaphore,
    /// Idle connections, most recently used last.
    idle: Mutex<Vec<Conn>>,
    last: Mutex<Last>,
}

/// What the latest handshake said.
struct Last {
    path: PathBuf,
    role: Option<Role>,
    daemon_version: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; recover anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = lock(&self.inner.last);
        f.debug_struct("Client")
            .field("socket", &last.path)
            .field("role", &last.role)
            .field("daemon_version", &last.daemon_version)
            .field("idle", &lock(&self.inner.idle).len())
            .field("max_connections", &self.inner.max_connections)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("request_timeout", &self.inner.request_timeout)
            .finish()
    }
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

/// Requests that only read, or whose repetition changes nothing: safe to
/// send again when a connection broke after they were written.
fn idempotent(req: &Request) -> bool {
    matches!(
        req,
        Request::Apps
            | Request::Sessions(_)
            | Request::Show { .. }
            | Request::Path { .. }
            | Request::Verify { .. }
            | Request::Status
            | Request::Refresh
            | Request::Push { .. }
    )
}

/// What a change request holds besides its names (its variant, status,
/// list length and push flag), with room to spare.
const REQUEST_OVERHEAD: usize = 64;

/// `names` cut into runs whose encoding fits `budget` bytes: one run, the
/// whole list (possibly empty), unless it does not fit. A name costs its
/// bytes and its length prefix (at most 9 bytes).
fn runs_within(names: &[String], budget: usize) -> Vec<&[String]> {
    let mut runs = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, name) in names.iter().enumerate() {
        let cost = name.len() + 9;
        if used + cost > budget && i > start {
            runs.push(&names[start..i]);
            (start, used) = (i, 0);
        }
        used += cost;
    }
    runs.push(&names[start..]);
    runs
}

/// A connect failure that means "no daemon here": no socket file, or a file
/// nobody listens on (left by a daemon that was killed).
fn no_daemon(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

impl Inner {
    /// Opens a new connection, and shakes hands.
    async fn open(&self) -> Result<Conn, ClientError> {
        within(self.connect_timeout, "connect", self.open_first()).await
    }

    /// Connects to the first path where a daemon answers. The paths are
    /// looked at anew each time: a daemon may have appeared at the per-user
    /// path since the last connection. When searching, a path without a
    /// daemon passes to the next; the error lists the paths tried.
    async fn open_first(&self) -> Result<Conn, ClientError> {
        let search = matches!(self.socket, ClientSocket::Search(_));
        let mut tried: Vec<PathBuf> = Vec::new();
        // The error names the first stale socket file, else the first path.
        let mut missed: Option<(PathBuf, io::Error)> = None;
        for path in self.socket.to_try() {
            tried.push(path.to_path_buf());
            match tokio::net::UnixStream::connect(path).await {
                Ok(stream) => {
                    let conn = conn::handshake(stream, path).await?;
                    let mut last = lock(&self.last);
                    last.path = path.to_path_buf();
                    last.role = Some(conn.role);
                    last.daemon_version = Some(conn.daemon_version.clone());
                    return Ok(conn);
                }
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
            let first = self.socket.candidates().first().cloned();
            (
                first.unwrap_or_default(),
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no trustworthy mobile-sessiond socket",
                ),
            )
        });
        Err(ClientError::connect(&path, &tried, e))
    }

    /// An idle connection that is still open, if any.
    fn checkout_idle(&self) -> Option<Conn> {
        let mut idle = lock(&self.idle);
        while let Some(conn) = idle.pop() {
            if conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, conn: Conn) {
        lock(&self.idle).push(conn);
    }

    /// One request with its whole answer. A pooled connection that turns out
    /// to be dead (the daemon restarted since it was last used) is replaced
    /// by a fresh one and the request sent again, when that is safe: the
    /// request never left, or sending it twice changes nothing.
    async fn roundtrip(&self, req: &Request) -> Result<Answer, ClientError> {
        within(self.request_timeout, "request", async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| ClientError::Protocol("the client was shut down".into()))?;
            let (mut conn, reused) = match self.checkout_idle() {
                Some(c) => (c, true),
                None => (self.open().await?, false),
            };
            let exchanged = conn.exchange(req).await;
            match self.checkin_if_in_step(conn, exchanged) {
                Ok(answer) => Ok(answer),
                Err(Failure::NotSent(_)) if reused => self.retry(req).await,
                Err(Failure::NoAnswer(_)) if reused && idempotent(req) => self.retry(req).await,
                Err(f) => Err(f.into_error()),
            }
        })
        .await
    }

    async fn retry(&self, req: &Request) -> Result<Answer, ClientError> {
        let mut conn = self.open().await?;
        let exchanged = conn.exchange(req).await;
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

    async fn one(&self, req: &Request) -> Result<Response, ClientError> {
        match self.roundtrip(req).await? {
            Answer::One(r) => Ok(r),
            Answer::Rows(rows) => Ok(Response::SessionsPage { rows, done: true }),
        }
    }
}

impl Client {
    /// Connects to the daemon at `path` with the default settings.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        ClientBuilder::new().socket(path).connect().await
    }

    /// Connects to the daemon found as the command line finds it
    /// (`$MOBILE_SESSION_SOCKET`, the per-user socket, the system socket).
    pub async fn connect_default() -> Result<Self, ClientError> {
        ClientBuilder::new().connect().await
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The socket of the latest connection (or the one the next will use).
    pub fn socket_path(&self) -> PathBuf {
        lock(&self.inner.last).path.clone()
    }

    /// This user's rights, as the latest handshake granted them.
    pub fn role(&self) -> Option<Role> {
        lock(&self.inner.last).role
    }

    /// The daemon's version, as the latest handshake told it.
    pub fn daemon_version(&self) -> Option<String> {
        lock(&self.inner.last).daemon_version.clone()
    }

    /// Sends any one-answer request and returns its answer (an error answer
    /// is `Err`). `Sessions` comes back as one page holding every row;
    /// `Watch` is refused here: use [`Client::watch`].
    pub async fn request(&self, req: &Request) -> Result<Response, ClientError> {
        if matches!(req, Request::Watch { .. }) {
            return Err(ClientError::Protocol(
                "a watch request streams events: use Client::watch".into(),
            ));
        }
        self.inner.one(req).await
    }

    pub async fn apps(&self) -> Result<Vec<AppRow>, ClientError> {
        match self.inner.one(&Request::Apps).await? {
            Response::Apps(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// Every row of the disk view that `filter` keeps, gathered from the
    /// daemon's pages.
    pub async fn sessions(&self, filter: SessionFilter) -> Result<Vec<SessionRow>, ClientError> {
        match self.inner.roundtrip(&Request::Sessions(filter)).await? {
            Answer::Rows(rows) => Ok(rows),
            Answer::One(r) => Err(unexpected(r)),
        }
    }

    /// The session file's JSON text, as stored (tokens redacted for readers).
    pub async fn show(&self, session: &str) -> Result<String, ClientError> {
        let req = Request::Show {
            session: session.into(),
        };
        match self.inner.one(&req).await? {
            Response::Show { json } => Ok(json),
            r => Err(unexpected(r)),
        }
    }

    /// The absolute path of the session file.
    pub async fn path(&self, session: &str) -> Result<PathBuf, ClientError> {
        let req = Request::Path {
            session: session.into(),
        };
        match self.inner.one(&req).await? {
            Response::Path { path } => Ok(PathBuf::from(path)),
            r => Err(unexpected(r)),
        }
    }

    /// Rewrites `status` in each session's file (all or none), then pushes
    /// if `push`. More names than one request holds (about 1 MiB of them)
    /// go in several requests, in order, each all or none: an error stops
    /// there, and the requests before it stay done.
    pub async fn set_status(
        &self,
        status: Status,
        sessions: &[String],
        push: bool,
    ) -> Result<ChangeReport, ClientError> {
        self.change(sessions, push, |sessions, push| Request::SetStatus {
            status,
            sessions,
            push,
        })
        .await
    }

    /// Deletes the session files (all or none), then pushes if `push`.
    /// More names than one request holds go as [`Client::set_status`]'s do.
    pub async fn delete(
        &self,
        sessions: &[String],
        push: bool,
    ) -> Result<ChangeReport, ClientError> {
        self.change(sessions, push, |sessions, push| Request::Delete {
            sessions,
            push,
        })
        .await
    }

    /// Sends `request` for each run of `sessions` that fits one frame, the
    /// push with the last, and joins the reports.
    async fn change(
        &self,
        sessions: &[String],
        push: bool,
        request: impl Fn(Vec<String>, bool) -> Request,
    ) -> Result<ChangeReport, ClientError> {
        let runs = runs_within(sessions, MAX_REQUEST_FRAME - REQUEST_OVERHEAD);
        let mut report = ChangeReport {
            sessions: Vec::new(),
            push: None,
        };
        for (i, run) in runs.iter().enumerate() {
            let last = i + 1 == runs.len();
            match self.inner.one(&request(run.to_vec(), push && last)).await? {
                Response::Changed(c) => {
                    report.sessions.extend(c.sessions);
                    report.push = c.push;
                }
                r => return Err(unexpected(r)),
            }
        }
        Ok(report)
    }

    /// Applies the files to the live view (`MOBILE APP REFRESH SESSIONS`);
    /// `full` re-reads every file rather than what changed.
    pub async fn push(&self, full: bool) -> Result<PushReport, ClientError> {
        match self.inner.one(&Request::Push { full }).await? {
            Response::Pushed(p) => Ok(p),
            r => Err(unexpected(r)),
        }
    }

    /// Rescans every folder into the disk view; answers the apps.
    pub async fn refresh(&self) -> Result<Vec<AppRow>, ClientError> {
        match self.inner.one(&Request::Refresh).await? {
            Response::Apps(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// Checks a bearer token against the live view. A token longer than any
    /// 4D token is `unknown` without a round trip.
    pub async fn verify(&self, token: &str) -> Result<VerifyReply, ClientError> {
        if token.len() > MAX_TOKEN_LEN {
            return Ok(VerifyReply::unknown());
        }
        let req = Request::Verify {
            token: token.into(),
        };
        match self.inner.one(&req).await? {
            Response::Verified(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }

    /// Many `verify` at once on one connection: every request is written
    /// while the answers are read (pipelining), so the cost is about one
    /// round trip plus the daemon's work. Answers come in the order of
    /// `tokens`.
    pub async fn verify_many(&self, tokens: &[String]) -> Result<Vec<VerifyReply>, ClientError> {
        let requests: Vec<Request> = tokens
            .iter()
            .filter(|t| t.len() <= MAX_TOKEN_LEN)
            .map(|t| Request::Verify { token: t.clone() })
            .collect();
        let inner = &self.inner;
        let answers = within(inner.request_timeout, "request", async {
            let _permit = inner
                .permits
                .acquire()
                .await
                .map_err(|_| ClientError::Protocol("the client was shut down".into()))?;
            let (conn, reused) = match inner.checkout_idle() {
                Some(c) => (c, true),
                None => (inner.open().await?, false),
            };
            match pipeline(inner, conn, &requests).await {
                // verify only reads: a pooled connection found dead is
                // replaced and the batch sent again.
                Err(ClientError::ConnectionLost { .. }) if reused => {
                    pipeline(inner, inner.open().await?, &requests).await
                }
                other => other,
            }
        })
        .await?;
        let mut answers = answers.into_iter();
        Ok(tokens
            .iter()
            .map(|t| match t.len() <= MAX_TOKEN_LEN {
                true => answers.next().unwrap_or_else(VerifyReply::unknown),
                false => VerifyReply::unknown(),
            })
            .collect())
    }

    /// Signs a device in from the JSON body a mobile app posts to
    /// `$authenticate`. A refusal by the policy is `success: false` or an
    /// error answer with [`ErrorCode::Refused`](crate::ErrorCode::Refused).
    /// The session gets no `session.ip`: a front that knows the app's
    /// address calls [`Client::authenticate_from`].
    pub async fn authenticate(&self, body: &str) -> Result<AuthReply, ClientError> {
        self.authenticate_from(body, None).await
    }

    /// [`Client::authenticate`] with `ip`, the address the front saw the
    /// app's request come from (`"::ffff:192.168.5.4"`): the daemon stores it
    /// as the session's `session.ip` and tells it to the sign-in hook. A
    /// `session` object in the body is never trusted. An `ip` that is not an
    /// IP address is an error answer with
    /// [`ErrorCode::BadRequest`](crate::ErrorCode::BadRequest).
    pub async fn authenticate_from(
        &self,
        body: &str,
        ip: Option<&str>,
    ) -> Result<AuthReply, ClientError> {
        let req = match ip {
            None => Request::Authenticate { body: body.into() },
            Some(ip) => Request::AuthenticateFrom {
                body: body.into(),
                ip: ip.into(),
            },
        };
        match self.inner.one(&req).await? {
            Response::Authenticated(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// The daemon's version, pid, uptime, paths and counters.
    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        match self.inner.one(&Request::Status).await? {
            Response::Status(s) => Ok(s),
            r => Err(unexpected(r)),
        }
    }

    /// 4D's `$userInfo`: stores `body` (`{"userInfo":{…},"device":{"token":…}}`)
    /// in the session of `token`. An unknown or not accepted token is an
    /// error answer with [`ErrorCode::UnknownToken`](crate::ErrorCode::UnknownToken).
    pub async fn user_info(&self, token: &str, body: &str) -> Result<ChangedSession, ClientError> {
        let req = Request::UserInfo {
            token: token.into(),
            body: body.into(),
        };
        match self.inner.one(&req).await? {
            Response::UserInfoStored(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// 4D's `$logout`: deletes the session of `token` and drops it from the
    /// live view at once.
    pub async fn logout(&self, token: &str) -> Result<ChangedSession, ClientError> {
        let req = Request::Logout {
            token: token.into(),
        };
        match self.inner.one(&req).await? {
            Response::LoggedOut(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// Streams events (of one app with `app`: a folder name or an app id) on
    /// a connection the stream keeps, with no request timeout. The stream
    /// ends when the daemon stops.
    pub async fn watch(&self, app: Option<String>) -> Result<EventStream, ClientError> {
        // An idle connection (the one `connect` opened, say) serves; the
        // stream keeps it for good.
        let mut conn = match self.inner.checkout_idle() {
            Some(c) => c,
            None => self.inner.open().await?,
        };
        conn.framed
            .send(&Request::Watch { app })
            .await
            .map_err(ClientError::frame)?;
        Ok(EventStream::new(conn.framed))
    }
}

/// Pipelined `verify` on `conn`, returned to the pool when all answers are in.
async fn pipeline(
    inner: &Inner,
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
    inner.checkin(conn);
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn names_go_in_one_request_unless_they_do_not_fit() {
        let names: Vec<String> = (0..10).map(|i| format!("{i:040}")).collect();
        // 49 bytes a name at most: all of them in one.
        assert_eq!(runs_within(&names, 490), [&names[..]]);
        assert_eq!(runs_within(&[], 490), [&[] as &[String]]);
        // Three a run: 3 × 49 fits 150, 4 × 49 does not.
        let runs = runs_within(&names, 150);
        assert_eq!(
            runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        assert_eq!(runs.concat(), names, "in order, none lost");
        // A name larger than a run alone is a run of its own (and the
        // request then says it is too large).
        assert_eq!(runs_within(&names[..2], 10).len(), 2);
    }

    #[tokio::test]
    async fn a_search_passes_sockets_without_a_daemon_and_names_the_stale_one() {
        let dir = TempDir::new("mobile-session-search");
        let missing = dir.0.join("missing.sock");
        let stale = dir.0.join("stale.sock");
        // Bound, then closed: the file stays, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let client = ClientBuilder::new()
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
        let explicit = ClientBuilder::new().socket(&stale).build();
        match explicit.status().await {
            Err(ClientError::Unreachable { path, tried, .. }) => {
                assert_eq!(path, stale);
                assert_eq!(tried, [stale]);
            }
            other => panic!("{other:?}"),
        }
    }
}
