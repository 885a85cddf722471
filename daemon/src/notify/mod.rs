//! Push notifications to the devices of sessions: APNs (HTTP/2, an ES256
//! provider token) and FCM HTTP v1 (an OAuth access token from a service
//! account), over TLS with certificates always checked.
//!
//! - [`settings`]: the `[notify]` configuration;
//! - [`recipients`]: who a command reaches (no I/O);
//! - [`credentials`]: an app's keys, from the config or its folder;
//! - [`jwt`], [`oauth`]: provider tokens and access tokens, and their caches;
//! - [`tls`], [`http`]: the TLS configuration and the kept HTTP/2 connections;
//! - [`apns`], [`fcm`], [`verdict`]: each service's request and answer;
//! - [`retry`]: backoff and `Retry-After`;
//! - [`send`]: one command's sending;
//! - this file: the [`Notifier`], which owns all that for the daemon's life.
//!
//! The sending runs on a thread of its own (its own current-thread
//! runtime, started at the first `notify`): TLS and JSON for thousands of
//! devices never delay the I/O thread that answers `verify`. The
//! connections live there, across commands, until the daemon stops.

pub mod apns;
pub mod credentials;
pub mod fcm;
pub mod http;
pub mod jwt;
pub mod oauth;
pub mod recipients;
pub mod retry;
pub mod send;
pub mod settings;
pub mod tls;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::locks::lock;
use send::{Caches, Job, Sent};

/// What the connections were made with: the CA file and its version.
type PoolKey = (Option<PathBuf>, Option<(SystemTime, u64)>);

type Work = (Arc<http::Pool>, Job, oneshot::Sender<Result<Sent, String>>);

/// The daemon is stopping: nothing more is sent.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the daemon is stopping")]
pub struct Stopping;

/// The push-notification service of the daemon: the connections, the
/// token caches and the thread that sends.
pub struct Notifier {
    shutdown: CancellationToken,
    caches: Arc<Caches>,
    pool: Mutex<Option<(PoolKey, Arc<http::Pool>)>>,
    worker: OnceLock<Option<mpsc::UnboundedSender<Work>>>,
}

impl Notifier {
    /// Nothing starts until the first notification.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            shutdown,
            caches: Arc::new(Caches::default()),
            pool: Mutex::new(None),
            worker: OnceLock::new(),
        }
    }

    /// The connections to use with `ca_file` (and the system's roots): the
    /// ones kept, unless the CA file changed since they were made. Reads
    /// files: call it on the blocking pool.
    pub fn pool(&self, ca_file: Option<&Path>) -> Result<Arc<http::Pool>, tls::TlsError> {
        let version = ca_file.and_then(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        });
        let key: PoolKey = (ca_file.map(Path::to_path_buf), version);
        let mut pool = lock(&self.pool);
        if let Some((k, p)) = pool.as_ref() {
            if *k == key {
                return Ok(p.clone());
            }
        }
        let config = tls::client_config(ca_file)?;
        let fresh = Arc::new(http::Pool::new(config, self.shutdown.clone()));
        *pool = Some((key, fresh.clone()));
        Ok(fresh)
    }

    /// Sends `job` on the notify thread and waits for the outcome. `Err`
    /// inside: a configuration error found before anything was sent.
    pub async fn send(
        &self,
        pool: Arc<http::Pool>,
        job: Job,
    ) -> Result<Result<Sent, String>, Stopping> {
        let worker = self
            .worker
            .get_or_init(|| start_worker(self.shutdown.clone(), self.caches.clone()));
        let (tx, rx) = oneshot::channel();
        worker
            .as_ref()
            .ok_or(Stopping)?
            .send((pool, job, tx))
            .map_err(|_| Stopping)?;
        rx.await.map_err(|_| Stopping)
    }

    /// Connections opened since start (the current pool's).
    pub fn connections_opened(&self) -> u64 {
        lock(&self.pool).as_ref().map_or(0, |(_, p)| {
            p.opened.load(std::sync::atomic::Ordering::Relaxed)
        })
    }
}

/// Starts the notify thread. It serves jobs until the daemon stops, then
/// lets the jobs in flight end (their requests fail at once as "stopping")
/// and closes the connections.
fn start_worker(
    shutdown: CancellationToken,
    caches: Arc<Caches>,
) -> Option<mpsc::UnboundedSender<Work>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Work>();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the notification runtime: {e}");
            return None;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut jobs = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        work = rx.recv() => match work {
                            Some((pool, job, reply)) => {
                                let caches = caches.clone();
                                jobs.spawn(async move {
                                    let _ = reply.send(send::run(&pool, &caches, job).await);
                                });
                            }
                            None => break,
                        },
                        _ = shutdown.cancelled() => break,
                        Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
                    }
                }
                rx.close();
                while jobs.join_next().await.is_some() {}
            });
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::error!("cannot start the notification thread: {e}");
            None
        }
    }
}
