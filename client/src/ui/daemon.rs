//! The only place the window calls the client library: connections for
//! requests, one for `watch`. Everything else in `ui` sees these methods.

use mobile_session::{Client, ClientBuilder, ClientError, EventStream};
use mobile_session_proto::{
    AppRow, ChangeReport, ErrorCode, Event, PushReport, Role, SessionFilter, SessionRow, Status,
};

use super::model::SessionKey;

/// The window's requests, answered one at a time in order. Their timeouts
/// are the library's: none for those whose cost grows with the data (push,
/// rescan, the listing), so that a slow one is not taken for a daemon gone.
pub struct Daemon {
    client: Client,
}

impl Daemon {
    /// `client` is connected; the socket it uses serves every request.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A new connection made as `builder` says (the socket, or the other
    /// host, of the first one).
    pub async fn connect(builder: &ClientBuilder) -> Result<Self, ClientError> {
        Ok(Self::new(builder.clone().connect().await?))
    }

    /// The role the daemon gave (a connected client always has one; a
    /// reader's window is the safe assumption otherwise).
    pub fn role(&self) -> Role {
        self.client.role().unwrap_or(Role::Reader)
    }

    pub fn version(&self) -> String {
        self.client.daemon_version().unwrap_or_default()
    }

    pub async fn apps(&mut self) -> Result<Vec<AppRow>, ClientError> {
        self.client.apps().await
    }

    /// Every row of every app (the window filters by app itself).
    pub async fn sessions(&mut self) -> Result<Vec<SessionRow>, ClientError> {
        self.client.sessions(SessionFilter::default()).await
    }

    pub async fn show(&mut self, key: &SessionKey) -> Result<String, ClientError> {
        self.client.show(&key.arg()).await
    }

    pub async fn set_status(
        &mut self,
        status: Status,
        keys: &[SessionKey],
    ) -> Result<ChangeReport, ClientError> {
        let args: Vec<String> = keys.iter().map(SessionKey::arg).collect();
        self.client.set_status(status, &args, false).await
    }

    pub async fn delete(&mut self, keys: &[SessionKey]) -> Result<ChangeReport, ClientError> {
        let args: Vec<String> = keys.iter().map(SessionKey::arg).collect();
        self.client.delete(&args, false).await
    }

    pub async fn push(&mut self) -> Result<PushReport, ClientError> {
        self.client.push(false).await
    }

    /// Rescans every folder; answers how many app folders there are.
    pub async fn rescan(&mut self) -> Result<usize, ClientError> {
        Ok(self.client.refresh().await?.len())
    }
}

/// The `watch` stream, on a connection of its own.
pub struct Events {
    stream: EventStream,
}

impl Events {
    pub async fn open(builder: &ClientBuilder) -> Result<Self, ClientError> {
        let stream = builder.clone().build().watch(None).await?;
        Ok(Self { stream })
    }

    /// The next event; `None` when the daemon closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        self.stream.next_event().await.transpose()
    }
}

/// Whether the connection is unusable (reconnect), as opposed to a request
/// the daemon refused or failed (report it and go on). A request that ran
/// out of time is a failed request: the library has dropped its connection,
/// the next request opens another, and the `watch` stream says whether the
/// daemon is gone.
pub fn connection_lost(e: &ClientError) -> bool {
    match e {
        ClientError::Daemon(reply) => reply.code == ErrorCode::ShuttingDown,
        ClientError::Timeout { .. } => false,
        _ => true,
    }
}

/// One line for the status bar (the library's messages may hold a hint on
/// a second line).
pub fn describe(e: &ClientError) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let code = match e {
        ClientError::Daemon(reply) => match reply.code {
            ErrorCode::PermissionDenied => "permission denied: ",
            ErrorCode::Conflict => "conflict: ",
            _ => "",
        },
        _ => "",
    };
    format!("{code}{first}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    use mobile_session_proto::{
        ClientHello, Connection, ErrorReply, HelloOutcome, ServerHello, MAGIC, PROTOCOL_VERSION,
    };

    /// A socket path in a folder of its own, removed on drop.
    struct Socket(PathBuf);

    impl Drop for Socket {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// A daemon that shakes hands as an admin's and never answers a request.
    fn silent_daemon(name: &str) -> Socket {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                let mut conn = Connection::new(stream, 1 << 20);
                let _: Option<ClientHello> = conn.recv().await.unwrap();
                let hello = ServerHello {
                    magic: MAGIC,
                    protocol: PROTOCOL_VERSION,
                    daemon_version: "silent".into(),
                    outcome: HelloOutcome::Welcome { role: Role::Admin },
                };
                conn.send(&hello).await.unwrap();
                held.push(conn);
            }
        });
        Socket(path)
    }

    #[tokio::test(start_paused = true)]
    async fn push_and_rescan_take_as_long_as_they_take_a_timeout_is_no_lost_connection() {
        let socket = silent_daemon("mobile-session-ui-slow");
        let mut daemon = Daemon::connect(&Client::builder().socket(&socket.0))
            .await
            .unwrap();
        // Far past the library's 30 s, push and rescan still wait.
        let long = Duration::from_secs(600);
        assert!(tokio::time::timeout(long, daemon.push()).await.is_err());
        assert!(tokio::time::timeout(long, daemon.rescan()).await.is_err());
        // Other requests keep the limit; running out of it is a failed
        // request, not a daemon gone.
        let e = tokio::time::timeout(long, daemon.apps())
            .await
            .expect("apps has a request timeout")
            .unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
        assert!(!connection_lost(&e));
    }

    #[test]
    fn only_a_broken_connection_or_a_stopping_daemon_is_lost() {
        let daemon = |code| {
            ClientError::Daemon(ErrorReply {
                code,
                message: String::new(),
            })
        };
        assert!(connection_lost(&daemon(ErrorCode::ShuttingDown)));
        assert!(!connection_lost(&daemon(ErrorCode::NotFound)));
        assert!(!connection_lost(&ClientError::Timeout {
            what: "request",
            after: Duration::from_secs(30),
        }));
        assert!(connection_lost(&ClientError::ConnectionLost {
            source: std::io::ErrorKind::UnexpectedEof.into(),
        }));
    }
}
