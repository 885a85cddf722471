//! How many clients the daemon serves, and for how long it waits on them.
//!
//! Every connection costs a descriptor, and so does every file the daemon
//! reads. So the daemon raises its soft open-file limit to the hard one at
//! start, and keeps the number of connections below that limit with room
//! to spare for file work: a flood of idle clients then gets "busy" answers
//! instead of starving the reads that keep sessions live.

use std::time::Duration;

use mobile_session_proto::{Role, MAX_REQUEST_FRAME, MAX_TOKEN_LEN};

pub const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
/// Connections kept for admins beyond `max_connections`.
pub const ADMIN_RESERVE: u64 = 8;
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Busy answers being given at once; past it, a new client is closed at once.
pub const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused (busy) client has to say hello before we answer anyway.
pub const BUSY_HELLO_WAIT: Duration = Duration::from_secs(1);

/// The largest request a reader may send. A reader names a session, a
/// token (at most [`MAX_TOKEN_LEN`]) or a filter: a few KiB at most. A frame
/// is held whole before it is decoded, so with the admins' 1 MiB any reader
/// could make the daemon hold a MiB per connection it opens.
pub const MAX_READER_FRAME: usize = 2 * MAX_TOKEN_LEN;

/// The largest request frame a connection of `role` may send.
pub fn max_request_frame(role: Role) -> usize {
    match role {
        Role::Admin => MAX_REQUEST_FRAME,
        Role::Reader => MAX_READER_FRAME,
    }
}

/// The limits every connection is served under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more are answered "busy".
    pub max_connections: u64,
    /// A connection that neither asks nor reads for this long is closed.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The configured limits, with the connection cap kept below what the
    /// open-file limit allows.
    pub fn new(
        configured_max: Option<u64>,
        idle_timeout_ms: Option<u64>,
        fd_limit: Option<u64>,
    ) -> Self {
        let wanted = configured_max.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1);
        Self {
            max_connections: match fd_limit {
                Some(fds) => wanted.min(connections_within(fds)),
                None => wanted,
            },
            idle_timeout: idle_timeout_ms
                .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_millis)
                .max(Duration::from_millis(1)),
        }
    }
}

/// Connections that fit under an open-file limit of `fds`, leaving room for
/// the rest: standard streams, the runtime, the watcher, the scan workers
/// (two descriptors each), the admins' reserve and refusals being answered.
pub fn connections_within(fds: u64) -> u64 {
    let refusals = (REFUSALS_AT_ONCE as u64).min(fds / 8);
    let reserve = 32 + ADMIN_RESERVE + refusals + fds / 16;
    fds.saturating_sub(reserve).max(1)
}

/// Raises the soft open-file limit to the hard one (a systemd unit's default
/// soft limit of 1024 is far below what a busy web server's `verify` needs).
/// Returns the soft limit in force afterwards, if it can be read.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let (Some(current), hard) = (now.current, now.maximum) else {
        return None; // unlimited
    };
    // macOS refuses a soft limit above OPEN_MAX even when the hard one is higher.
    let target = match hard {
        Some(h) if cfg!(target_vendor = "apple") => h.min(10_240),
        Some(h) => h,
        None if cfg!(target_vendor = "apple") => 10_240,
        None => return Some(current),
    };
    if target > current {
        let raised = Rlimit {
            current: Some(target),
            maximum: hard,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return Some(target),
            Err(e) => {
                tracing::warn!("cannot raise the open-file limit from {current} to {target}: {e}")
            }
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_may_send_a_token_of_the_longest_kind_and_not_much_more() {
        assert_eq!(max_request_frame(Role::Admin), MAX_REQUEST_FRAME);
        let reader = max_request_frame(Role::Reader);
        assert!(reader > MAX_TOKEN_LEN + 64, "a verify frame has a header");
        assert!(reader <= 64 * 1024);
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(Limits::new(None, None, Some(1 << 20)).max_connections, 4096);
        let low = Limits::new(None, None, Some(64)).max_connections;
        assert!(low > 0 && low < 64 - 16, "{low}");
        assert_eq!(Limits::new(Some(10), None, Some(1024)).max_connections, 10);
        assert!(Limits::new(None, None, Some(1024)).max_connections < 1024);
        assert_eq!(connections_within(0), 1);
        assert_eq!(
            Limits::new(None, Some(0), None).idle_timeout,
            Duration::from_millis(1)
        );
    }
}
