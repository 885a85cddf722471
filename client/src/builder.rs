//! [`ClientBuilder`]: where the daemon is, timeouts, pool size.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mobile_session_proto::paths::{client_socket, ClientSocket};

use crate::pool::Pool;
use crate::{Client, ClientError, Connector, UnixConnector};

/// Default time allowed to connect and shake hands.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one request's whole answer, when the request's
/// cost does not grow with the data.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of connections one handle (and its clones) opens at most.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// Configures a [`Client`]: where the daemon is, timeouts, pool size.
/// Clones share the connector (an ssh connector's shared connection too).
#[derive(Clone)]
pub struct ClientBuilder {
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) long_request_timeout: Option<Duration>,
    pub(crate) max_connections: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("socket", &self.connector.expected_socket())
            .field("host", &self.connector.host())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("long_request_timeout", &self.long_request_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
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
            connector: Arc::new(UnixConnector::new(client_socket(None))),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            long_request_timeout: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Uses this socket and no other.
    pub fn socket(self, path: impl AsRef<Path>) -> Self {
        self.socket_choice(ClientSocket::Explicit(path.as_ref().to_path_buf()))
    }

    /// Where to look for the daemon, as [`mobile_session_proto::paths::client_socket`] resolves it.
    pub fn socket_choice(self, socket: ClientSocket) -> Self {
        self.connector(UnixConnector::new(socket))
    }

    /// Reaches the daemon through `connector` instead of a local socket:
    /// an [`SshConnector`](crate::SshConnector) (feature `ssh`) for a daemon
    /// on another host, or one of the embedder's own. The pool, its
    /// timeouts and retries work the same over any of them.
    pub fn connector(mut self, connector: impl Connector) -> Self {
        self.connector = Arc::new(connector);
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
