//! The server: the accept loop, one task per connection, graceful shutdown.
//!
//! Connections are served on the daemon's one I/O thread; every request
//! that touches files hands that work to the blocking pool (see `cmd`).
//! Shutdown: the loop stops accepting when the token is cancelled; each
//! connection finishes the request it is handling, then closes; `serve`
//! returns once every connection task is done (or a grace period passed).

pub mod access;
pub mod connection;
pub mod listener;

use std::sync::atomic::Ordering;
use std::time::Duration;

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

use crate::cmd::DaemonInfo;
use crate::core::Core;
use access::Access;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Counts a connection for `status` while it lives.
struct Connected(Arc<Core>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every connection shares.
#[derive(Clone)]
pub struct Shared {
    pub core: Arc<Core>,
    pub info: Arc<DaemonInfo>,
    pub access: Arc<Access>,
    pub shutdown: CancellationToken,
}

/// Accepts connections until `shared.shutdown` is cancelled, then waits
/// for the connections in flight.
pub async fn serve(listener: Listener, shared: Shared) {
    let tracker = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match stream {
            Ok(stream) => {
                let shared = shared.clone();
                shared
                    .core
                    .stats
                    .connections
                    .fetch_add(1, Ordering::Relaxed);
                let connected = Connected(shared.core.clone());
                tracker.spawn(async move {
                    let _connected = connected;
                    connection::serve(stream, shared).await;
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {SHUTDOWN_GRACE:?}");
    }
}
