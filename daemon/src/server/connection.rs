//! One connection: the handshake (who is calling, with what rights), then
//! requests answered in order until the client leaves or the daemon stops.

use std::time::Duration;

use mobile_session_proto::{
    ClientHello, Connection, ErrorCode, ErrorReply, FrameError, HelloOutcome, Incoming, Response,
    Role, ServerHello, MAGIC, MAX_HELLO_FRAME, PROTOCOL_VERSION,
};
use tokio::net::UnixStream as Stream;
use tokio::time::Instant;

use super::access::{Access, Peer};
use super::limits::{self, BUSY_HELLO_WAIT};
use super::Shared;
use crate::cmd::{self, verify, Context, Flow};

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

fn hello(outcome: HelloOutcome) -> ServerHello {
    ServerHello {
        magic: MAGIC,
        protocol: PROTOCOL_VERSION,
        daemon_version: mobile_session_proto::VERSION.to_string(),
        outcome,
    }
}

/// Reads the client's hello and answers it; the caller's role, or `None`
/// when the connection is refused (and then closed).
async fn handshake(conn: &mut Connection<Stream>, access: &Access, peer: &Peer) -> Option<Role> {
    let client = match tokio::time::timeout(HELLO_TIMEOUT, conn.recv::<ClientHello>()).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => {
            tracing::debug!("bad hello: {e}");
            let reason = format!("not a mobile-session handshake: {e}");
            let _ = conn.send(&hello(HelloOutcome::Refused { reason })).await;
            return None;
        }
        Err(_) => return None,
    };
    let outcome = if client.magic != MAGIC {
        Err("not a mobile-session handshake (wrong magic number)".to_string())
    } else if client.protocol != PROTOCOL_VERSION {
        Err(format!(
            "protocol version {} is not supported: mobile-sessiond {} speaks protocol {PROTOCOL_VERSION}; use a mobile-session client of the same release (client is {})",
            client.protocol,
            mobile_session_proto::VERSION,
            client.client_version
        ))
    } else {
        access.role_of(peer)
    };
    match outcome {
        Ok(role) => conn
            .send(&hello(HelloOutcome::Welcome { role }))
            .await
            .ok()
            .map(|_| role),
        Err(reason) => {
            tracing::warn!(uid = ?peer.uid, "connection refused: {reason}");
            let _ = conn.send(&hello(HelloOutcome::Refused { reason })).await;
            None
        }
    }
}

/// Tells a client the daemon serves as many connections as it may, then
/// closes. Its hello is read first (briefly), so the answer is not lost to
/// a reset of a socket closed with unread data.
pub async fn refuse_busy(stream: Stream, max: u64) {
    let mut conn = Connection::new(stream, MAX_HELLO_FRAME);
    let _ = tokio::time::timeout(BUSY_HELLO_WAIT, conn.recv::<ClientHello>()).await;
    let reason = format!(
        "the daemon is busy: it serves {max} connections, its limit (max_connections); try again in a moment"
    );
    let _ = tokio::time::timeout(
        BUSY_HELLO_WAIT,
        conn.send(&hello(HelloOutcome::Busy { reason })),
    )
    .await;
}

/// Serves one connection to its end.
pub async fn serve(stream: Stream, shared: Shared) {
    let peer = Peer::of(&stream);
    // Until the peer is known, it may not make us hold more than a hello.
    let mut conn = Connection::new(stream, MAX_HELLO_FRAME);
    // A client that stops reading our answers is closed, not buffered for.
    let idle = shared.limits.idle_timeout;
    conn.set_write_timeout(Some(idle));
    let access = shared.access();
    let Some(role) = handshake(&mut conn, &access, &peer).await else {
        return;
    };
    conn.set_max_incoming(limits::max_request_frame(role));
    let ctx = Context {
        core: shared.core,
        info: shared.info,
        role,
        shutdown: shared.shutdown,
        hooks: shared.hooks,
        notifier: shared.notifier,
        state: shared.state,
        caller: std::sync::Arc::new(crate::state::audit::Caller::new(peer.uid, peer.pid)),
    };
    // One cancellation future and one idle timer for the connection's life,
    // not one per request: arming a timer per request costs a lock on the
    // runtime's timer wheel, a tenth of a verify's time. The timer is moved
    // on only when it fires early, so at most once per idle period.
    let shutdown = ctx.shutdown.clone();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    let mut last_answer = Instant::now();
    let idle_timer = tokio::time::sleep_until(last_answer + idle);
    tokio::pin!(idle_timer);
    loop {
        // `recv_or_answer` is cancel-safe: what it read stays in the
        // buffer. A verify is answered right there ([`verify::answer_in_place`]).
        let incoming = tokio::select! {
            biased;
            r = conn.recv_or_answer(|body, out| verify::answer_in_place(&ctx, body, out)) => r,
            () = &mut idle_timer => {
                let quiet_until = last_answer + idle;
                if Instant::now() < quiet_until {
                    idle_timer.as_mut().reset(quiet_until);
                    continue;
                }
                // Closed without a word: the client may be between requests,
                // and an answer it did not ask for would be read as the next one.
                tracing::debug!("closing a connection idle for {idle:?}");
                break;
            }
            _ = &mut cancelled => break,
        };
        let request = match incoming {
            Ok(Some(Incoming::Message(r))) => Some(r),
            Ok(Some(Incoming::Answered)) => None,
            Ok(None) | Err(FrameError::Io(_)) => break,
            Err(e) => {
                let message = match e {
                    FrameError::TooLong { max } if role == Role::Reader => {
                        format!(
                            "request refused: larger than {max} bytes, the most a reader may send"
                        )
                    }
                    FrameError::TooLong { max } => {
                        format!("request refused: larger than {max} bytes")
                    }
                    e => format!("request refused: {e}"),
                };
                tracing::warn!("closing a connection: {message}");
                let _ = conn
                    .send(&Response::Error(ErrorReply {
                        code: ErrorCode::BadRequest,
                        message,
                    }))
                    .await;
                break;
            }
        };
        if let Some(request) = request {
            if cmd::execute(&ctx, &mut conn, request).await == Flow::Close {
                break;
            }
        }
        // Pipelined requests waiting: answer them before flushing, so the
        // answers share one write.
        if !conn.has_complete_frame() && conn.flush().await.is_err() {
            break;
        }
        // Idle counts from the last answer: a long push is not idleness.
        last_answer = Instant::now();
    }
    let _ = conn.flush().await;
}
