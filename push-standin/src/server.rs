//! The HTTP/2-over-TLS server both stand-ins run on its own thread, with a
//! handler that answers each request whole.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;

use crate::ca::ServerCert;

/// A request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Received) -> Answer + Send + Sync>;

/// How long a held request waits for the others at most.
const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(30);

/// Requests in flight: how many now, the most seen, and how many to wait
/// for before answering any (0: answer at once).
#[derive(Default)]
struct Gate {
    active: AtomicUsize,
    most: AtomicUsize,
    hold: AtomicUsize,
    changed: tokio::sync::Notify,
}

impl Gate {
    /// Counts a request in; with a hold, waits until that many are in
    /// flight together (or [`HOLD_AT_MOST`]). The gate then stays open:
    /// the first to get through may well be answered before the others
    /// look again.
    async fn enter(&self) {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let hold = self.hold.load(Ordering::SeqCst);
        if hold > 0 && now >= hold {
            self.hold.store(0, Ordering::SeqCst);
            self.changed.notify_waiters();
        }
        let deadline = tokio::time::Instant::now() + HOLD_AT_MOST;
        loop {
            let changed = self.changed.notified();
            if self.hold.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
    }

    fn leave(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running server; it stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicU64>,
    gate: Arc<Gate>,
    /// Bumped to close every open connection.
    cut: watch::Sender<u64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(cert: &ServerCert, handler: Handler) -> Self {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("server key PEM");
        // ring: the crypto the JWTs are signed with too, and a far shorter build
        // than aws-lc-rs; it lacks only the post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicU64::new(0));
        let (cut, cut_rx) = watch::channel(0u64);
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let count = connections.clone();
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let thread = std::thread::Builder::new()
            .name("push-standin".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("stand-in runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(std_listener).expect("listener");
                    tokio::select! {
                        _ = stop_rx => {}
                        _ = accept_loop(listener, acceptor, handler, count, g, cut_rx) => {}
                    }
                });
            })
            .expect("stand-in thread");
        Self {
            addr,
            connections,
            gate,
            cut,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// TLS connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Answers nothing until `n` requests are in flight at once (or 30 s
    /// passed), then everything as usual: shows that a client sends them
    /// together.
    pub fn hold_until_in_flight(&self, n: usize) {
        self.gate.hold.store(n, Ordering::SeqCst);
    }

    /// The most requests seen in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.gate.most.load(Ordering::SeqCst)
    }

    /// Closes every open connection (as a server that goes away would).
    pub fn drop_connections(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handler: Handler,
    count: Arc<AtomicU64>,
    gate: Arc<Gate>,
    cut: watch::Receiver<u64>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, handler, count, gate, mut cut) = (
            acceptor.clone(),
            handler.clone(),
            count.clone(),
            gate.clone(),
            cut.clone(),
        );
        tokio::spawn(async move {
            // A handshake refused by the client (an untrusted certificate)
            // is not a connection.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            cut.mark_unchanged();
            tokio::select! {
                _ = serve(tls, handler, gate) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

async fn serve<S>(io: S, handler: Handler, gate: Arc<Gate>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = conn.accept().await {
        let (handler, gate) = (handler.clone(), gate.clone());
        tokio::spawn(async move {
            gate.enter().await;
            let (parts, mut body) = request.into_parts();
            let mut bytes = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            let received = Received {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            };
            let answer = handler(&received);
            let mut response = http::Response::builder().status(answer.status);
            for (n, v) in &answer.headers {
                response = response.header(n.as_str(), v.as_str());
            }
            if let Ok(response) = response.body(()) {
                if let Ok(mut stream) = respond.send_response(response, answer.body.is_empty()) {
                    if !answer.body.is_empty() {
                        let _ = stream.send_data(Bytes::from(answer.body), true);
                    }
                }
            }
            gate.leave();
        });
    }
}
