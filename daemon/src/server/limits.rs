//! How many clients the daemon serves, and for how long it waits on them.
//!
//! Every connection costs a descriptor, and so does every file the daemon
//! reads and every running sign-in hook (its pipes). So the daemon raises
//! its soft open-file limit to the hard one at start, sets room aside for
//! `max_hooks` hooks, and keeps the number of connections below what is
//! left with room to spare for file work: a flood of idle clients then gets
//! "busy" answers instead of starving the reads that keep sessions live,
//! and a flood of sign-ins waits for a hook's place instead of failing to
//! start one.

use std::time::Duration;

use mobile_session_proto::{Role, MAX_REQUEST_FRAME, MAX_TOKEN_LEN};

pub const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
/// Connections kept for admins beyond `max_connections`.
pub const ADMIN_RESERVE: u64 = 8;
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Busy answers being given at once; past it, a new client is closed at once.
pub const REFUSALS_AT_ONCE: usize = 64;
/// Descriptors one running hook holds: its three pipes, and the pidfd the
/// runtime watches it with.
pub const FDS_PER_HOOK: u64 = 4;
/// More for the one being started (hooks start one at a time, on the I/O
/// thread): both ends of each pipe until it is spawned, and std's
/// exec-error pipe where it forks instead of `posix_spawn`.
pub const FDS_STARTING_HOOK: u64 = 4;

/// `max_hooks` when not configured: 16 per core, from 16 to 256.
pub fn default_max_hooks() -> u64 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
    (16 * cores).clamp(16, 256)
}

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
    /// Sign-in hooks running at once.
    pub max_hooks: u64,
}

impl Limits {
    /// The configured limits, with the hooks and the connections kept
    /// within what the open-file limit allows.
    pub fn new(
        configured_max: Option<u64>,
        idle_timeout_ms: Option<u64>,
        fd_limit: Option<u64>,
        configured_hooks: Option<u64>,
    ) -> Self {
        let wanted = configured_max.unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1);
        let hooks = configured_hooks.unwrap_or_else(default_max_hooks).max(1);
        let (max_connections, max_hooks) = match fd_limit {
            Some(fds) => {
                let budget = Budget::within(fds, hooks);
                (wanted.min(budget.connections), budget.hooks)
            }
            None => (wanted, hooks),
        };
        Self {
            max_connections,
            idle_timeout: idle_timeout_ms
                .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_millis)
                .max(Duration::from_millis(1)),
            max_hooks,
        }
    }
}

/// How an open-file limit is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub connections: u64,
    pub hooks: u64,
}

impl Budget {
    /// What fits under an open-file limit of `fds`, after the room for the
    /// rest (standard streams, the runtime, the watcher, the scan workers
    /// with two descriptors each, the admins' reserve and refusals being
    /// answered): up to `hooks` hooks, in at most a quarter of what is left
    /// and at least one, then the connections.
    pub fn within(fds: u64, hooks: u64) -> Self {
        let refusals = (REFUSALS_AT_ONCE as u64).min(fds / 8);
        let reserve = 32 + ADMIN_RESERVE + refusals + fds / 16;
        let spare = fds.saturating_sub(reserve);
        let hooks = hooks
            .min((spare / 4).saturating_sub(FDS_STARTING_HOOK) / FDS_PER_HOOK)
            .max(1);
        let hook_fds = hooks * FDS_PER_HOOK + FDS_STARTING_HOOK;
        Self {
            connections: spare.saturating_sub(hook_fds).max(1),
            hooks,
        }
    }
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
        assert_eq!(
            Limits::new(None, None, Some(1 << 20), None).max_connections,
            4096
        );
        let low = Limits::new(None, None, Some(64), None).max_connections;
        assert!(low > 0 && low < 64 - 16, "{low}");
        assert_eq!(
            Limits::new(Some(10), None, Some(1024), None).max_connections,
            10
        );
        assert!(Limits::new(None, None, Some(1024), None).max_connections < 1024);
        assert_eq!(
            Budget::within(0, 32),
            Budget {
                connections: 1,
                hooks: 1
            }
        );
        assert_eq!(
            Limits::new(None, Some(0), None, None).idle_timeout,
            Duration::from_millis(1)
        );
    }

    #[test]
    fn hooks_have_their_room_and_connections_the_rest() {
        for fds in [64, 96, 256, 1024, 4096, 65536, 1 << 20] {
            let b = Budget::within(fds, 32);
            let hook_fds = b.hooks * FDS_PER_HOOK + FDS_STARTING_HOOK;
            assert!(b.hooks >= 1 && b.connections >= 1, "{fds}: {b:?}");
            assert!(
                b.connections + hook_fds + 32 + ADMIN_RESERVE <= fds,
                "{fds}: {b:?}"
            );
        }
        // A service's limit has room for every hook wanted.
        assert_eq!(Budget::within(65536, 32).hooks, 32);
        assert_eq!(
            Limits::new(None, None, Some(65536), Some(256)).max_hooks,
            256
        );
        // A small one keeps one, and connections besides.
        let tiny = Limits::new(None, None, Some(64), Some(32));
        assert_eq!(tiny.max_hooks, 1);
        assert!(tiny.max_connections >= 2, "{tiny:?}");
        // No limit known: as configured.
        assert_eq!(Limits::new(None, None, None, Some(7)).max_hooks, 7);
        assert!((16..=256).contains(&default_max_hooks()));
    }
}
