//! `watch [APP]`: streams events until the client goes away or the daemon
//! stops.
//!
//! Each watcher has its own bounded buffer: a slow one gets a `lagged`
//! event (with how many it missed) and continues; it never slows the daemon
//! or other clients. The task also reads its socket, so a client that
//! closes is noticed at once (its descriptor freed), not at the next event.
use std::sync::atomic::Ordering;

use mobile_session_proto::{Connection, Event, EventKind, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::RecvError;

use super::resolve::resolve_app;
use super::{error, Context, Flow};

/// Counts a `watch` stream for `status` while it lives.
struct Watching<'a>(&'a Context);

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.0.core.stats.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Context,
    conn: &mut Connection<S>,
    app: Option<String>,
) -> Flow {
    let app = match app {
        // On the blocking pool: it takes the view lock.
        Some(a) => {
            let c = ctx.clone();
            let found = tokio::task::spawn_blocking(move || {
                c.core.read_views(|disk, live| resolve_app(disk, live, &a))
            })
            .await
            .unwrap_or_else(|e| Err(super::CmdError::internal(e.to_string())));
            match found {
                Ok(folder) => Some(folder),
                Err(e) => {
                    let _ = conn.send(&error(e)).await;
                    return Flow::Continue;
                }
            }
        }
        None => None,
    };
    let mut events = ctx.core.subscribe();
    ctx.core.stats.watchers.fetch_add(1, Ordering::Relaxed);
    let _watching = Watching(ctx);
    // Anything queued before (pipelined answers) goes out first.
    if conn.flush().await.is_err() {
        return Flow::Close;
    }
    loop {
        let event = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Flow::Close,
            // The client has nothing more to say: any frame, or the end of
            // the stream, ends the watch.
            _ = conn.recv::<Request>() => return Flow::Close,
            e = events.recv() => e,
        };
        let event = match event {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => {
                let mut e = Event::new(EventKind::Lagged);
                e.count = Some(n);
                e
            }
            Err(RecvError::Closed) => return Flow::Close,
        };
        // Events of one app: app-less ones (pushes, rescans, lag) still go.
        if let (Some(want), Some(of)) = (&app, &event.app) {
            if want != of {
                continue;
            }
        }
        // A client that stopped reading blocks only this task, until
        // shutdown or the connection's write timeout closes it; meanwhile
        // its channel drops what it cannot hold (it is told it lagged).
        let msg = Response::Event(event);
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return Flow::Close,
            sent = conn.send(&msg) => if sent.is_err() { return Flow::Close },
        }
    }
}
