//! The server: the accept loop, one task per connection, graceful shutdown.
//!
//! Connections are served on the daemon's one I/O thread; every request
//! that touches files hands that work to the blocking pool (see `cmd`).
//! Shutdown: the loop stops accepting when the token is cancelled; each
//! connection finishes the request it is handling, then closes; `serve`
//! returns once every connection task is done (or a grace period passed).

pub mod access;
mod acl;
pub mod connection;
pub mod limits;
pub mod listener;

use std::sync::atomic::Ordering;
use std::time::Duration;

use std::sync::{Arc, RwLock};
use tokio::net::{UnixListener as Listener, UnixStream as Stream};
use tokio_util::task::TaskTracker;

use crate::cmd::DaemonInfo;
use crate::core::Core;
use access::Access;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

// Running hooks are killed inside the grace, so their sign-ins are answered.
const _: () = assert!(crate::hook::STOP_GRACE.as_secs() + 2 <= SHUTDOWN_GRACE.as_secs());

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
    /// Replaced when the configuration is reloaded.
    pub access: Arc<RwLock<Arc<Access>>>,
    pub limits: limits::Limits,
    pub shutdown: CancellationToken,
    pub hooks: Arc<crate::hook::Hooks>,
    pub notifier: Arc<crate::notify::Notifier>,
    pub state: Arc<crate::state::State>,
}

impl Shared {
    /// The access rules in force.
    pub fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Past `max_connections`, an admin may still come in, up to
/// [`limits::ADMIN_RESERVE`] more: idle readers never lock out the people
/// who could deal with them.
fn admin_may_enter(stream: &Stream, shared: &Shared, open: u64) -> bool {
    if open >= shared.limits.max_connections + limits::ADMIN_RESERVE {
        return false;
    }
    let peer = access::Peer::of(stream);
    shared.access().role_of(&peer) == Ok(mobile_session_proto::Role::Admin)
}

/// Accepts connections until `shared.shutdown` is cancelled, then waits
/// for the connections in flight.
pub async fn serve(listener: Listener, socket: listener::SocketGuard, shared: Shared) {
    let tracker = TaskTracker::new();
    // Clients told "busy" since a connection last came in under the cap:
    // the current burst.
    let mut refusals: u64 = 0;
    let refusing = Arc::new(tokio::sync::Semaphore::new(limits::REFUSALS_AT_ONCE));
    loop {
        let stream = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            r = listener.accept() => r.map(|(stream, _)| stream),
        };
        match stream {
            Ok(stream) => {
                let shared = shared.clone();
                let open = shared.core.stats.connections.load(Ordering::Relaxed);
                if open >= shared.limits.max_connections && !admin_may_enter(&stream, &shared, open)
                {
                    refusals += 1;
                    // Said once per burst, not once per client of a flood:
                    // at its first refusal (a burst ends when a client is
                    // served under the cap again).
                    if refusals == 1 {
                        tracing::warn!(
                            "{open} connections open, the most allowed (max_connections): new clients are told the daemon is busy"
                        );
                    }
                    // Refusals take descriptors too: a flood beyond those
                    // being answered is closed without a word.
                    if let Ok(permit) = refusing.clone().try_acquire_owned() {
                        let max = shared.limits.max_connections;
                        tracker.spawn(async move {
                            connection::refuse_busy(stream, max).await;
                            drop(permit);
                        });
                    }
                    continue;
                }
                if open < shared.limits.max_connections && refusals > 0 {
                    tracing::info!(
                        "below max_connections again: {refusals} clients were told the daemon was busy"
                    );
                    refusals = 0;
                }
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
    // The socket file first, while the listener still holds it: a daemon
    // started during the grace below then binds a fresh one, which this one
    // never touches.
    drop(socket);
    drop(listener);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {SHUTDOWN_GRACE:?}");
    }
}
