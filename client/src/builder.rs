//! [`ClientBuilder`]: where the daemon is, timeouts, pool size.

use std::path::Path;
use std::time::Duration;

use mobile_session_proto::paths::{client_socket, ClientSocket};

use crate::pool::Pool;
use crate::{Client, ClientError};

/// Default time allowed to connect and shake hands.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one request's whole answer, when the request's
/// cost does not grow with the data.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of connections one handle (and its clones) opens at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// Configures a [`Client`]: where the daemon is, timeouts, pool size.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) socket: ClientSocket,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) long_request_timeout: Option<Duration>,
    pub(crate) max_connections: usize,
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
            long_request_timeout: None,
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
    /// last byte of the answer (default 30 s; `None`: no limit), for the
    /// requests whose cost does not grow with the data (`verify`, `show`,
    /// a status change of one session…). `watch` streams have none.
    pub fn request_timeout(mut self, t: Option<Duration>) -> Self {
        self.request_timeout = t;
        self
    }

    /// Time allowed for a request whose cost grows with the data (listing
    /// every session, a push, a rescan, a change of many sessions: see
    /// [`Request::scales_with_data`](mobile_session_proto::Request::scales_with_data)).
    /// Default: no limit, since a slow answer there is no sign of a daemon
    /// gone.
    pub fn long_request_timeout(mut self, t: Option<Duration>) -> Self {
        self.long_request_timeout = t;
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
        Client::from_pool(Pool::new(self))
    }

    /// Connects now, so that a missing daemon or a refusal shows at once.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let client = self.build();
        client.connect_now().await?;
        Ok(client)
    }
}
