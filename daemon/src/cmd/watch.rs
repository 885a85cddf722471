//! `watch`: streams events until the client goes away or the daemon stops.
//! Each watcher has its own bounded buffer: a slow one gets a `lagged`
//! event and continues; it never slows the daemon or other clients.
use std::sync::Arc;

use interprocess::local_socket::tokio::Stream;
use mobile_session_proto::{Connection, Event, EventKind, Response, Role};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::state::State;

pub async fn run(
    conn: &mut Connection<Stream>,
    state: &Arc<State>,
    _role: Role,
    shutdown: CancellationToken,
) {
    let mut events = state.subscribe();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.recv() => e,
        };
        let event = match event {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                let mut e = Event::new(EventKind::Lagged);
                e.count = Some(n);
                e
            }
            Err(RecvError::Closed) => return,
        };
        // A client that stopped reading blocks only this task, and only
        // until shutdown; meanwhile its channel drops what it cannot hold.
        let msg = Response::Event(event);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            sent = conn.send(&msg) => if sent.is_err() { return },
        }
    }
}
