//! The wire protocol shared by `mobile-sessiond` (the daemon) and
//! `mobile-session` (the client), and nothing else.
//!
//! # Protocol
//!
//! A connection is a local stream socket (a Unix domain socket at a file
//! path, see [`paths`]). Every message is one *frame*: a 4-byte big-endian
//! length followed by that many bytes of [bincode 2] (standard config). The
//! daemon refuses frames larger than [`MAX_REQUEST_FRAME`]; the client
//! accepts answers up to [`MAX_RESPONSE_FRAME`].
//!
//! 1. The client sends a [`ClientHello`] (magic, protocol version, its own
//!    version). Its layout never changes, so any past or future peer can read
//!    it and say "incompatible" instead of failing on garbage.
//! 2. The daemon answers a [`ServerHello`]: its protocol version, its version
//!    and either the caller's [`Role`] or the reason it refuses.
//! 3. Then the client sends [`Request`]s and the daemon answers each with
//!    one [`Response`], in order. A client may pipeline: send many requests
//!    before reading the answers. `Sessions` is answered by one or more
//!    [`Response::SessionsPage`] frames (the last has `done = true`), `Watch`
//!    by a stream of [`Response::Event`]s that ends only with the connection.
//!    `History` answers one [`Response::HistoryPage`]; the client asks again
//!    from its `next` cursor until there is none.
//!
//! A malformed frame (too long, not decodable) gets a [`Response::Error`] and
//! the daemon closes that connection; other connections are not affected.
//!
//! Enums here are append-only: new variants go at the end so that an older
//! peer still decodes everything it knows. Whole session files cross the wire
//! as their JSON text, never as serde structs of the on-disk format.
//!
//! [bincode 2]: https://docs.rs/bincode/2.0.1

pub mod connection;
mod facts;
pub mod handshake;
pub mod hot;
pub mod message;
pub mod notify;
pub mod ops;
pub mod paths;

pub use connection::{Connection, FrameError, Incoming};
pub use facts::{MIN_ID_PREFIX, REDACTED};
pub use handshake::{ClientHello, HelloOutcome, Role, ServerHello, MAGIC, PROTOCOL_VERSION};
pub use message::*;
pub use notify::*;
pub use ops::*;

/// The largest request frame the daemon accepts (1 MiB).
pub const MAX_REQUEST_FRAME: usize = 1024 * 1024;

/// The largest hello the daemon accepts: the first frame comes before the
/// peer's role is known, so it may not make the daemon hold much for it.
pub const MAX_HELLO_FRAME: usize = 4 * 1024;

/// The largest answer frame the client accepts. Listings are paged far below it.
pub const MAX_RESPONSE_FRAME: usize = 64 * 1024 * 1024;

/// Rows per [`Response::SessionsPage`].
pub const SESSIONS_PAGE_ROWS: usize = 1000;

/// A token longer than this cannot be a 4D token (the JSON it encodes holds an
/// app id, a session id and a team id); it is `unknown` without a lookup.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// This crate's version, which both binaries share.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
