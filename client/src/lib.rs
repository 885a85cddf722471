//! The `mobile-session` client library: connect to `mobile-sessiond`, shake
//! hands, and make typed calls. The CLI in `main.rs` is a thin layer over it;
//! a web server can embed it to check tokens.
//!
//! One [`Client`] keeps one connection open. Requests are answered in order,
//! so [`Client::verify_many`] sends many `verify` requests back to back
//! (pipelined) and reads the answers as they come.
//!
//! ```no_run
//! use mobile_session::Client;
//! use mobile_session_proto::VerifyStatus;
//!
//! # async fn example() -> Result<(), mobile_session::ClientError> {
//! let socket = mobile_session_proto::paths::socket_path(None);
//! let mut client = Client::connect(&socket).await?;
//! // In a request handler, with the `Authorization: Bearer …` value:
//! let reply = client.verify("eyJhcHBOYW1lSUQiOi…").await?;
//! if reply.status == VerifyStatus::Accepted {
//!     // serve the request
//! }
//! // Many at once, one round trip's worth of latency:
//! let tokens = vec!["t1".to_string(), "t2".to_string()];
//! let answers = client.verify_many(&tokens).await?;
//! assert_eq!(answers.len(), 2);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
pub use mobile_session_proto as proto;
use mobile_session_proto::{
    AppRow, AuthReply, ChangeReport, ChangedSession, ClientHello, Connection, DaemonStatus,
    ErrorCode, ErrorReply, Event, FrameError, HelloOutcome, PushReport, Request, Response, Role,
    ServerHello, SessionFilter, SessionRow, Status, VerifyReply, MAGIC, MAX_RESPONSE_FRAME,
    MAX_TOKEN_LEN, PROTOCOL_VERSION,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach mobile-sessiond at {path}: {cause}\nhint: start it with `mobile-sessiond --socket {path}` (or `systemctl start mobile-sessiond`), or point --socket / $MOBILE_SESSION_SOCKET at the right socket")]
    Unreachable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("mobile-sessiond refused the connection: {0}")]
    Refused(String),
    #[error("mobile-sessiond is busy: {0}")]
    Busy(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The daemon answered with an error.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    #[error("connection to mobile-sessiond lost: {0}")]
    Frame(#[from] FrameError),
}

impl ClientError {
    /// The daemon's error code, when the daemon answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Daemon(e) => Some(e.code),
            _ => None,
        }
    }
}

pub struct Client {
    conn: Connection<Stream>,
    role: Role,
    daemon_version: String,
}

fn unexpected(r: Response) -> ClientError {
    match r {
        Response::Error(e) => ClientError::Daemon(e),
        other => ClientError::Protocol(format!("unexpected answer: {other:?}")),
    }
}

impl Client {
    /// Connects and shakes hands.
    pub async fn connect(path: &Path) -> Result<Self, ClientError> {
        let unreachable = |cause| ClientError::Unreachable {
            path: path.to_path_buf(),
            cause,
        };
        let name = path.to_fs_name::<GenericFilePath>().map_err(unreachable)?;
        let stream = Stream::connect(name).await.map_err(unreachable)?;
        let mut conn = Connection::new(stream, MAX_RESPONSE_FRAME);
        conn.send(&ClientHello::current()).await?;
        let hello: ServerHello = conn.recv().await?.ok_or_else(|| {
            ClientError::Protocol("the daemon closed the connection during the handshake".into())
        })?;
        if hello.magic != MAGIC {
            return Err(ClientError::Protocol(format!(
                "{} is not a mobile-sessiond socket",
                path.display()
            )));
        }
        match hello.outcome {
            HelloOutcome::Refused { reason } => Err(ClientError::Refused(reason)),
            HelloOutcome::Busy { reason } => Err(ClientError::Busy(reason)),
            HelloOutcome::Welcome { .. } if hello.protocol != PROTOCOL_VERSION => Err(ClientError::Protocol(format!(
                "mobile-sessiond {} speaks protocol {}, this client ({}) speaks {PROTOCOL_VERSION}: use matching versions",
                hello.daemon_version,
                hello.protocol,
                mobile_session_proto::VERSION
            ))),
            HelloOutcome::Welcome { role } => Ok(Self {
                conn,
                role,
                daemon_version: hello.daemon_version,
            }),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn daemon_version(&self) -> &str {
        &self.daemon_version
    }

    /// Sends one request and reads its one answer (an error answer is `Err`).
    pub async fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.conn.send(req).await?;
        self.next_response().await
    }

    async fn next_response(&mut self) -> Result<Response, ClientError> {
        match self.conn.recv::<Response>().await? {
            Some(Response::Error(e)) => Err(ClientError::Daemon(e)),
            Some(r) => Ok(r),
            None => Err(ClientError::Protocol(
                "the daemon closed the connection".into(),
            )),
        }
    }

    pub async fn apps(&mut self) -> Result<Vec<AppRow>, ClientError> {
        match self.request(&Request::Apps).await? {
            Response::Apps(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// All rows, gathered from the daemon's pages.
    pub async fn sessions(
        &mut self,
        filter: SessionFilter,
    ) -> Result<Vec<SessionRow>, ClientError> {
        self.conn.send(&Request::Sessions(filter)).await?;
        let mut all = Vec::new();
        loop {
            match self.next_response().await? {
                Response::SessionsPage { rows, done } => {
                    all.extend(rows);
                    if done {
                        return Ok(all);
                    }
                }
                r => return Err(unexpected(r)),
            }
        }
    }

    /// The session file's JSON text.
    pub async fn show(&mut self, session: &str) -> Result<String, ClientError> {
        match self
            .request(&Request::Show {
                session: session.into(),
            })
            .await?
        {
            Response::Show { json } => Ok(json),
            r => Err(unexpected(r)),
        }
    }

    pub async fn path(&mut self, session: &str) -> Result<PathBuf, ClientError> {
        match self
            .request(&Request::Path {
                session: session.into(),
            })
            .await?
        {
            Response::Path { path } => Ok(PathBuf::from(path)),
            r => Err(unexpected(r)),
        }
    }

    pub async fn set_status(
        &mut self,
        status: Status,
        sessions: &[String],
        push: bool,
    ) -> Result<ChangeReport, ClientError> {
        let req = Request::SetStatus {
            status,
            sessions: sessions.to_vec(),
            push,
        };
        match self.request(&req).await? {
            Response::Changed(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    pub async fn delete(
        &mut self,
        sessions: &[String],
        push: bool,
    ) -> Result<ChangeReport, ClientError> {
        let req = Request::Delete {
            sessions: sessions.to_vec(),
            push,
        };
        match self.request(&req).await? {
            Response::Changed(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    pub async fn push(&mut self, full: bool) -> Result<PushReport, ClientError> {
        match self.request(&Request::Push { full }).await? {
            Response::Pushed(p) => Ok(p),
            r => Err(unexpected(r)),
        }
    }

    pub async fn refresh(&mut self) -> Result<Vec<AppRow>, ClientError> {
        match self.request(&Request::Refresh).await? {
            Response::Apps(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// Checks a bearer token against the live view. A token longer than any
    /// 4D token is `unknown` without a round trip.
    pub async fn verify(&mut self, token: &str) -> Result<VerifyReply, ClientError> {
        if token.len() > MAX_TOKEN_LEN {
            return Ok(VerifyReply::unknown());
        }
        match self
            .request(&Request::Verify {
                token: token.into(),
            })
            .await?
        {
            Response::Verified(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }

    /// Pipelined `verify`: writes every request while reading answers, so
    /// neither side's socket buffer can fill up and stall the other.
    /// Answers come back in the order of `tokens`.
    pub async fn verify_many(
        &mut self,
        tokens: &[String],
    ) -> Result<Vec<VerifyReply>, ClientError> {
        let requests: Vec<Request> = tokens
            .iter()
            .filter(|t| t.len() <= MAX_TOKEN_LEN)
            .map(|t| Request::Verify { token: t.clone() })
            .collect();
        let mut daemon_error = None;
        let answers = self
            .conn
            .pipeline(&requests, |r: Response| match r {
                Response::Verified(v) => Ok(v),
                other => {
                    daemon_error = Some(unexpected(other));
                    Err(FrameError::Decode("unexpected answer to verify".into()))
                }
            })
            .await;
        let answers = match (answers, daemon_error) {
            (_, Some(e)) => return Err(e),
            (r, None) => r?,
        };
        let mut answers = answers.into_iter();
        Ok(tokens
            .iter()
            .map(|t| {
                if t.len() <= MAX_TOKEN_LEN {
                    answers.next().unwrap_or_else(VerifyReply::unknown)
                } else {
                    VerifyReply::unknown()
                }
            })
            .collect())
    }

    /// Signs a device in from the JSON body a mobile app posts to `$authenticate`.
    pub async fn authenticate(&mut self, body: &str) -> Result<AuthReply, ClientError> {
        match self
            .request(&Request::Authenticate { body: body.into() })
            .await?
        {
            Response::Authenticated(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    pub async fn status(&mut self) -> Result<DaemonStatus, ClientError> {
        match self.request(&Request::Status).await? {
            Response::Status(s) => Ok(s),
            r => Err(unexpected(r)),
        }
    }

    /// Stores `userInfo` and the push token of 4D's `$userInfo` body in the
    /// session of `token`.
    pub async fn user_info(
        &mut self,
        token: &str,
        body: &str,
    ) -> Result<ChangedSession, ClientError> {
        let req = Request::UserInfo {
            token: token.into(),
            body: body.into(),
        };
        match self.request(&req).await? {
            Response::UserInfoStored(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// 4D's `$logout`: deletes the session of `token`.
    pub async fn logout(&mut self, token: &str) -> Result<ChangedSession, ClientError> {
        match self
            .request(&Request::Logout {
                token: token.into(),
            })
            .await?
        {
            Response::LoggedOut(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// Turns this connection into an event stream (of one app, with `app`).
    pub async fn watch(mut self, app: Option<String>) -> Result<EventStream, ClientError> {
        self.conn.send(&Request::Watch { app }).await?;
        Ok(EventStream { conn: self.conn })
    }
}

/// The events of `watch`, as they happen.
pub struct EventStream {
    conn: Connection<Stream>,
}

impl EventStream {
    /// The next event; `None` when the daemon stopped.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        match self.conn.recv::<Response>().await? {
            Some(Response::Event(e)) => Ok(Some(e)),
            Some(r) => Err(unexpected(r)),
            None => Ok(None),
        }
    }
}
