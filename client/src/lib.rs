//! The `mobile-session` client library: talk to `mobile-sessiond` from Rust.
//! The `mobile-session` command line is a thin layer over it; a web server
//! embeds it to check the `Authorization: Bearer …` token of each request.
//!
//! Built with `default-features = false`, it depends on the protocol crate,
//! Tokio and a few small crates only; the default `cli` feature adds what
//! the `mobile-session` binary needs (clap and friends).
//!
//! # One handle, shared
//!
//! A [`Client`] is a cheap handle (an `Arc`) over a small pool of
//! connections: create it once at start-up, clone it into every task or
//! request handler, and call it through `&self`. Each call checks a
//! connection out of the pool (opening one if none is idle, up to
//! [`ClientBuilder::max_connections`]), and returns it once the whole answer
//! is in. There is nothing to lock on your side.
//!
//! After a daemon restart, the next call notices that its pooled connection
//! was closed, opens a new one and carries on; a request already written on
//! a connection that then broke is sent again only when that is safe (it
//! only reads, or repeating it changes nothing). Connecting and requests
//! have timeouts ([`ClientBuilder::connect_timeout`],
//! [`ClientBuilder::request_timeout`]); [`Client::watch`] streams have none.
//! Everything runs on the caller's Tokio runtime, which needs its I/O and
//! time drivers (`enable_all`).
//!
//! # Errors
//!
//! Every method returns [`ClientError`]; its variants say what to do next:
//! [`Unreachable`](ClientError::Unreachable) (no daemon: start it),
//! [`PermissionDenied`](ClientError::PermissionDenied) (join the socket's
//! group), [`Refused`](ClientError::Refused) and
//! [`Busy`](ClientError::Busy) (from the handshake),
//! [`Timeout`](ClientError::Timeout), [`Daemon`](ClientError::Daemon) (the
//! daemon's own answer, with an [`ErrorCode`]),
//! [`Protocol`](ClientError::Protocol) and
//! [`ConnectionLost`](ClientError::ConnectionLost). The operating system's
//! error, when there is one, is the error's `source()`.
//!
//! # Checking tokens in a web server
//!
//! A middleware-style check: answer 401 without a bearer token, 403 unless
//! its session is accepted, and 503 when the daemon cannot answer.
//! `examples/verify_middleware.rs` runs the same check in a small HTTP
//! server built on Tokio alone.
//!
//! ```no_run
//! use mobile_session::{Client, VerifyStatus};
//!
//! /// The HTTP status a request gets from its `Authorization` header.
//! async fn authorize(client: &Client, authorization: Option<&str>) -> u16 {
//!     let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
//!         return 401;
//!     };
//!     match client.verify(token.trim()).await {
//!         Ok(reply) if reply.status == VerifyStatus::Accepted => 200,
//!         Ok(_) => 403, // pending or unknown
//!         Err(_) => 503, // the daemon is away: refuse rather than guess
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mobile_session::ClientError> {
//! // Once, at start-up: finds the daemon as `mobile-session` does.
//! let client = Client::connect_default().await?;
//! // In each request handler, a clone of the same handle:
//! let handler_client = client.clone();
//! let status = tokio::spawn(async move {
//!     authorize(&handler_client, Some("Bearer eyJhcHBOYW1lSUQiOi…")).await
//! });
//! println!("{}", status.await.expect("the handler ran"));
//! // Many tokens at once, in about one round trip:
//! let answers = client.verify_many(&["t1".to_string(), "t2".to_string()]).await?;
//! assert_eq!(answers.len(), 2);
//! # Ok(()) }
//! ```

mod client;
mod conn;
mod error;
mod events;
mod notify;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use error::ClientError;
pub use events::EventStream;

/// The wire protocol crate, for the types not re-exported below.
pub use mobile_session_proto as proto;
pub use mobile_session_proto::{
    AppRow, AuthReply, ChangeReport, ChangedSession, DaemonStatus, ErrorCode, ErrorReply, Event,
    EventKind, Invalidity, PushReport, Role, SessionFilter, SessionRow, Status, Unpushed,
    VerifyReply, VerifyStatus,
};
pub use mobile_session_proto::{
    NotifyCounts, NotifyMessage, NotifyRecipients, NotifyReply, NotifyRequest, NotifyResult,
    NotifyStatus, Platform,
};
