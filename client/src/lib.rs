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
//! only reads, or repeating it changes nothing: [`Request::idempotent`]).
//! Connecting and requests have timeouts
//! ([`ClientBuilder::connect_timeout`], [`ClientBuilder::request_timeout`]);
//! requests whose cost grows with the data ([`Request::scales_with_data`]:
//! listings, pushes, rescans) have none unless
//! [`ClientBuilder::long_request_timeout`] sets one, and [`Client::watch`]
//! streams have none.
//!
//! [`Request::idempotent`]: proto::Request::idempotent
//! [`Request::scales_with_data`]: proto::Request::scales_with_data
//! Everything runs on the caller's Tokio runtime, which needs its I/O and
//! time drivers (`enable_all`).
//!
//! # Errors
//!
//! Every method returns [`ClientError`]; its variants say what to do next:
//! [`Unreachable`](ClientError::Unreachable) (no daemon: start it),
//! [`PermissionDenied`](ClientError::PermissionDenied) (join one of the
//! groups it names), [`Refused`](ClientError::Refused) and
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
//!
//! # A tower middleware (axum, tonic, hyper)
//!
//! The same check as a [tower] `Layer`: axum's `Router::layer`, tonic and
//! hyper-util take it as it is, e.g.
//! `Router::new().route("/api", get(api)).layer(RequireSession { client })`.
//! It needs only `tower-layer`, `tower-service` and `http` beside this
//! crate. The answer to a refused request is the inner service's body
//! type's default (empty), with the status.
//!
//! [tower]: https://docs.rs/tower
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{Context, Poll};
//!
//! use http::{header::AUTHORIZATION, Request, Response, StatusCode};
//! use mobile_session::{Client, VerifyStatus};
//! use tower_layer::Layer;
//! use tower_service::Service;
//!
//! /// Serves only the requests whose bearer token names an accepted session.
//! #[derive(Clone)]
//! pub struct RequireSession {
//!     pub client: Client,
//! }
//!
//! impl<S> Layer<S> for RequireSession {
//!     type Service = RequireSessionService<S>;
//!
//!     fn layer(&self, inner: S) -> Self::Service {
//!         RequireSessionService { client: self.client.clone(), inner }
//!     }
//! }
//!
//! #[derive(Clone)]
//! pub struct RequireSessionService<S> {
//!     client: Client,
//!     inner: S,
//! }
//!
//! impl<S, B, R> Service<Request<B>> for RequireSessionService<S>
//! where
//!     S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
//!     S::Future: Send,
//!     B: Send + 'static,
//!     R: Default,
//! {
//!     type Response = Response<R>;
//!     type Error = S::Error;
//!     type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;
//!
//!     fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
//!         self.inner.poll_ready(cx)
//!     }
//!
//!     fn call(&mut self, req: Request<B>) -> Self::Future {
//!         // The service polled ready serves this request; its clone, the next.
//!         let ready = self.inner.clone();
//!         let mut inner = std::mem::replace(&mut self.inner, ready);
//!         let client = self.client.clone();
//!         Box::pin(async move {
//!             let token = req
//!                 .headers()
//!                 .get(AUTHORIZATION)
//!                 .and_then(|v| v.to_str().ok())
//!                 .and_then(|v| v.strip_prefix("Bearer "));
//!             let refused = match token {
//!                 None => Some(StatusCode::UNAUTHORIZED),
//!                 Some(token) => match client.verify(token.trim()).await {
//!                     Ok(reply) if reply.status == VerifyStatus::Accepted => None,
//!                     Ok(_) => Some(StatusCode::FORBIDDEN), // pending or unknown
//!                     Err(_) => Some(StatusCode::SERVICE_UNAVAILABLE),
//!                 },
//!             };
//!             match refused {
//!                 None => inner.call(req).await,
//!                 Some(status) => {
//!                     let mut answer = Response::new(R::default());
//!                     *answer.status_mut() = status;
//!                     Ok(answer)
//!                 }
//!             }
//!         })
//!     }
//! }
//! # #[derive(Clone)]
//! # struct Hello;
//! # impl Service<Request<()>> for Hello {
//! #     type Response = Response<String>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Response<String>, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, _: Request<()>) -> Self::Future {
//! #         std::future::ready(Ok(Response::new("hello".into())))
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let dir = std::env::temp_dir().join(format!("no-daemon-{}", std::process::id()));
//! # let client = Client::builder().socket(dir.join("none.sock")).build();
//! # let mut api = RequireSession { client }.layer(Hello);
//! # let ask = |auth: Option<&str>| {
//! #     let mut req = Request::new(());
//! #     if let Some(a) = auth {
//! #         req.headers_mut().insert(AUTHORIZATION, a.parse().unwrap());
//! #     }
//! #     req
//! # };
//! # // No token: 401, without asking; no daemon there: 503.
//! # let answer = api.call(ask(None)).await.unwrap();
//! # assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
//! # let answer = api.call(ask(Some("Bearer eyJhcHBOYW1lSUQiOi"))).await.unwrap();
//! # assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
//! # }
//! ```

mod access;
mod batch;
mod builder;
mod client;
mod conn;
mod connector;
mod destination;
mod error;
mod events;
mod notify;
mod ops;
mod pool;
#[cfg(feature = "ssh")]
mod ssh;

pub use builder::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT,
};
pub use client::Client;
pub use connector::{BoxFuture, Connected, Connector, Transport, UnixConnector};
pub use destination::{Destination, InvalidDestination, SshAddress, HOST_ENV};
pub use error::{ClientError, RemoteFailure};
pub use events::EventStream;
#[cfg(feature = "ssh")]
pub use ssh::{
    greeting as dial_stdio, split_command_line, InvalidSshCommand, SshConnector,
    DEFAULT_REMOTE_SOCKET, SSH_COMMAND_ENV,
};

/// The wire protocol crate, for the types not re-exported below.
pub use mobile_session_proto as proto;
pub use mobile_session_proto::{
    AppRow, AuthReply, ChangeReport, ChangedSession, DaemonStatus, ErrorCode, ErrorReply, Event,
    EventKind, Invalidity, PushReport, Role, SessionFilter, SessionRow, Status, Unpushed,
    VerifyReply, VerifyStatus,
};
pub use mobile_session_proto::{
    AuditRecord, BlockEntry, BlockReport, BlockTarget, PurgeRequest, RemovalReport, RemovedSession,
    SessionSort,
};
pub use mobile_session_proto::{
    NotifyCounts, NotifyMessage, NotifyRecipients, NotifyReply, NotifyRequest, NotifyResult,
    NotifyStatus, Platform,
};
