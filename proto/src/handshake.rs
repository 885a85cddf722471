//! The first frame of each direction. These two structs are frozen: their
//! layout stays the same in every protocol version.

use serde::{Deserialize, Serialize};

/// "MSES" — tells a mobile-session peer from a stray client at the first frame.
pub const MAGIC: u32 = 0x4D53_4553;

/// Bumped whenever [`crate::Request`] / [`crate::Response`] change in a way an
/// older peer cannot read.
pub const PROTOCOL_VERSION: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    pub magic: u32,
    pub protocol: u32,
    pub client_version: String,
}

impl ClientHello {
    pub fn current() -> Self {
        Self {
            magic: MAGIC,
            protocol: PROTOCOL_VERSION,
            client_version: crate::VERSION.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHello {
    pub magic: u32,
    pub protocol: u32,
    pub daemon_version: String,
    pub outcome: HelloOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloOutcome {
    /// The caller may send requests with these rights.
    Welcome { role: Role },
    /// The daemon closes the connection; the reason is meant for a human.
    Refused { reason: String },
    /// The daemon serves `max_connections` already; try again later.
    Busy { reason: String },
}

/// What a caller may do, decided from the peer's credentials at the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Read-only commands; tokens are redacted.
    Reader,
    /// Everything.
    Admin,
}
