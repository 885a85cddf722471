//! HTTP/2 over TLS to the push services: one connection per endpoint,
//! kept open across commands and opened again when it closes, with many
//! streams in flight on it. A connection's driver task ends with the
//! daemon's shutdown signal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use rustls::pki_types::ServerName;
use tokio_util::sync::CancellationToken;

/// How long opening a connection (TCP, TLS, HTTP/2) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer body read; push services answer a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// Where a service is: `https://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// A path prefix without a trailing slash (`""` for none).
    pub base: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or("not an https:// URL (certificates are always checked)")?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or("an IPv6 address lacks its ]")?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
            return Err("no host name".into());
        }
        let port = match port {
            None => 443,
            Some(p) => p.parse().map_err(|_| format!("{p:?} is not a port"))?,
        };
        if base.contains(['?', '#', ' ']) {
            return Err("a query or fragment has no place here".into());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            base: base.to_string(),
        })
    }

    /// `host:port`, an IPv6 address in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The absolute URI of `path` (which starts with `/`) on this endpoint.
    pub fn uri(&self, path: &str) -> String {
        format!("https://{}{}{}", self.authority(), self.base, path)
    }
}

/// An answer: status, headers and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[cfg(test)]
impl Reply {
    /// An answer without headers.
    pub fn of(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// No connection could be opened (DNS, TCP, TLS, HTTP/2 handshake).
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The server's certificate was refused: never retried.
    #[error("the certificate of {endpoint} is not trusted: {reason}")]
    Untrusted { endpoint: String, reason: String },
    /// The connection or the stream broke before the answer.
    #[error("the connection to {endpoint} broke: {reason}")]
    Dropped { endpoint: String, reason: String },
    #[error("{endpoint} did not answer within {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout { endpoint: String },
    /// Shutting down.
    #[error("the daemon is stopping")]
    Stopping,
}

impl SendError {
    /// Worth another try later: a connection that broke or timed out, a
    /// service that could not be reached. A refused certificate is not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SendError::Connect { .. } | SendError::Dropped { .. } | SendError::Timeout { .. }
        )
    }
}

#[derive(Clone)]
struct Conn {
    send: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

/// The connections, one per endpoint, shared by every command.
pub struct Pool {
    tls: Arc<rustls::ClientConfig>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Conn>>>>>,
    shutdown: CancellationToken,
    /// Connections opened since start (for the log and the tests).
    pub opened: AtomicU64,
}

impl Pool {
    pub fn new(tls: Arc<rustls::ClientConfig>, shutdown: CancellationToken) -> Self {
        Self {
            tls,
            slots: Mutex::new(HashMap::new()),
            shutdown,
            opened: AtomicU64::new(0),
        }
    }

    /// The open connection to `ep`, opened now if there is none or it
    /// closed. Callers that come meanwhile wait for the one being opened.
    async fn connection(&self, ep: &Endpoint) -> Result<Conn, SendError> {
        let slot = {
            let mut slots = crate::locks::lock(&self.slots);
            slots.entry(ep.authority()).or_default().clone()
        };
        let mut current = slot.lock().await;
        if let Some(c) = current
            .as_ref()
            .filter(|c| !c.closed.load(Ordering::Acquire))
        {
            return Ok(c.clone());
        }
        *current = None;
        let opened = tokio::select! {
            _ = self.shutdown.cancelled() => return Err(SendError::Stopping),
            r = tokio::time::timeout(CONNECT_TIMEOUT, self.open(ep)) => r,
        };
        let conn = opened.unwrap_or_else(|_| {
            Err(SendError::Connect {
                endpoint: ep.authority(),
                reason: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
            })
        })?;
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Opens a connection before anything is sent, so that a refused
    /// certificate or an unreachable service is found once.
    pub async fn warm(&self, ep: &Endpoint) -> Result<(), SendError> {
        self.connection(ep).await.map(|_| ())
    }

    async fn open(&self, ep: &Endpoint) -> Result<Conn, SendError> {
        let connect = |reason: String| SendError::Connect {
            endpoint: ep.authority(),
            reason,
        };
        let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
            .await
            .map_err(|e| connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(ep.host.clone())
            .map_err(|e| connect(format!("{:?} is not a host name: {e}", ep.host)))?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_error(ep, e))?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(connect("the server does not speak HTTP/2 (ALPN h2)".into()));
        }
        let (send, driver) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .handshake::<_, Bytes>(tls)
            .await
            .map_err(|e| connect(format!("HTTP/2 handshake: {e}")))?;
        let closed = Arc::new(AtomicBool::new(false));
        let (flag, shutdown, endpoint) = (closed.clone(), self.shutdown.clone(), ep.authority());
        tokio::spawn(async move {
            tokio::select! {
                r = driver => match r {
                    Ok(()) => tracing::debug!(%endpoint, "push connection closed"),
                    Err(e) => tracing::info!(%endpoint, "push connection closed: {e}"),
                },
                _ = shutdown.cancelled() => {}
            }
            flag.store(true, Ordering::Release);
        });
        let n = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(endpoint = %ep.authority(), opened = n, "push connection open");
        Ok(Conn { send, closed })
    }

    /// Sends one request with `body` and reads the whole answer.
    pub async fn send(
        &self,
        ep: &Endpoint,
        request: http::Request<()>,
        body: Bytes,
    ) -> Result<Reply, SendError> {
        let conn = self.connection(ep).await?;
        let dropped = |e: h2::Error| {
            if e.is_io() || e.is_go_away() {
                conn.closed.store(true, Ordering::Release);
            }
            SendError::Dropped {
                endpoint: ep.authority(),
                reason: e.to_string(),
            }
        };
        let exchange = async {
            let mut send = conn.send.clone().ready().await.map_err(dropped)?;
            let (answer, mut stream) = send
                .send_request(request, body.is_empty())
                .map_err(dropped)?;
            if !body.is_empty() {
                stream.send_data(body, true).map_err(dropped)?;
            }
            let answer = answer.await.map_err(dropped)?;
            let (parts, mut recv) = answer.into_parts();
            let mut out = Vec::new();
            while let Some(chunk) = recv.data().await {
                let chunk = chunk.map_err(dropped)?;
                let _ = recv.flow_control().release_capacity(chunk.len());
                if out.len() + chunk.len() <= MAX_BODY {
                    out.extend_from_slice(&chunk);
                }
            }
            Ok(Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: Bytes::from(out),
            })
        };
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(SendError::Stopping),
            r = tokio::time::timeout(REQUEST_TIMEOUT, exchange) => r.unwrap_or_else(|_| {
                Err(SendError::Timeout { endpoint: ep.authority() })
            }),
        }
    }
}

/// A TLS failure: a refused certificate is told apart from the rest.
fn tls_error(ep: &Endpoint, e: std::io::Error) -> SendError {
    let refused = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
    if refused {
        SendError::Untrusted {
            endpoint: ep.authority(),
            reason: e.to_string(),
        }
    } else {
        SendError::Connect {
            endpoint: ep.authority(),
            reason: format!("TLS: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("https://api.push.apple.com").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.base.as_str()),
            ("api.push.apple.com", 443, "")
        );
        assert_eq!(
            e.uri("/3/device/ab"),
            "https://api.push.apple.com:443/3/device/ab"
        );
        let l = Endpoint::parse("https://localhost:8443/fcm/").unwrap();
        assert_eq!((l.port, l.base.as_str()), (8443, "/fcm"));
        let v6 = Endpoint::parse("https://[::1]:9000").unwrap();
        assert_eq!(v6.authority(), "[::1]:9000");
        for bad in [
            "http://x",
            "https://",
            "https://h:port",
            "https://[::1",
            "https://h/p?q",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
