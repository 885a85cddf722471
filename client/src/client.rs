//! [`Client`]: a cheaply cloneable handle over a small pool of connections
//! (`pool.rs`), and one typed method per request.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mobile_session_proto::{
    AppRow, AuthReply, ChangeReport, ChangedSession, DaemonStatus, PushReport, Request, Response,
    Role, SessionFilter, SessionRow, Status, VerifyReply, MAX_REQUEST_FRAME, MAX_TOKEN_LEN,
};

use crate::conn::{unexpected, Answer};
use crate::pool::{lock, Pool};
use crate::{batch, ClientBuilder, ClientError, EventStream};

/// A handle to `mobile-sessiond`. Clone it freely: clones share one pool of
/// connections, and every method takes `&self`, so one handle serves any
/// number of tasks at once (see the crate documentation).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Pool>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = lock(&self.inner.last);
        let [connect, request, long_request] = self.inner.timeouts();
        f.debug_struct("Client")
            .field("socket", &last.path)
            .field("host", &self.inner.host())
            .field("role", &last.role)
            .field("daemon_version", &last.daemon_version)
            .field("idle", &self.inner.idle_count())
            .field("max_connections", &self.inner.max_connections)
            .field("connect_timeout", &connect)
            .field("request_timeout", &request)
            .field("long_request_timeout", &long_request)
            .finish()
    }
}

impl Client {
    pub(crate) fn from_pool(pool: Pool) -> Self {
        Self {
            inner: Arc::new(pool),
        }
    }

    /// Opens a connection now and keeps it for the next call.
    pub(crate) async fn connect_now(&self) -> Result<(), ClientError> {
        let conn = self.inner.open().await?;
        self.inner.checkin(conn);
        Ok(())
    }

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
    /// For a daemon on another host, its socket there (empty before the
    /// first connection when the address names none).
    pub fn socket_path(&self) -> PathBuf {
        lock(&self.inner.last).path.clone()
    }

    /// The other host (`ssh://user@host:port`) when the daemon is reached
    /// through ssh; `None` for a local socket.
    pub fn host(&self) -> Option<String> {
        self.inner.host()
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

    /// The same rows, handed to `page` one page (up to 1 000 rows) at a
    /// time as they arrive: a listing of a million sessions is never held
    /// whole. An error `page` returns ends the listing with that error.
    pub async fn sessions_by_page(
        &self,
        filter: SessionFilter,
        mut page: impl FnMut(Vec<SessionRow>) -> Result<(), ClientError> + Send,
    ) -> Result<(), ClientError> {
        let req = Request::Sessions(filter);
        match self.inner.roundtrip_pages(&req, Some(&mut page)).await? {
            Answer::Rows(_) => Ok(()),
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
            dry_run: false,
        })
        .await
    }

    /// What [`Client::delete`] would answer now, deleting nothing: each
    /// session the names resolve to, `changed` when its file is there to
    /// delete (`false`: already deleted, live until a push).
    pub async fn delete_dry_run(&self, sessions: &[String]) -> Result<ChangeReport, ClientError> {
        self.change(sessions, false, |sessions, _| Request::Delete {
            sessions,
            push: false,
            dry_run: true,
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
        let runs = batch::runs(sessions, MAX_REQUEST_FRAME, |names| request(names, push))?;
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
        let answers = self.inner.verify_pipelined(&requests).await?;
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
