//! Facts about requests and values that both sides rely on, each stated
//! once: whether a request may be sent twice, whether its cost grows with
//! the data, the shortest id prefix, the redaction marker, and how a push
//! report reads. Who may send what is the daemon's policy, not a fact of
//! the protocol: it stays there.

use std::fmt;

use crate::{BlockTarget, PushReport, Request};

/// The shortest session id prefix a SESSION argument may be.
pub const MIN_ID_PREFIX: usize = 4;

/// What stands in for a token (a session's bearer token, a device's push
/// token) wherever it may not be shown.
pub const REDACTED: &str = "<redacted>";

impl Request {
    /// Whether sending it twice leaves things as sending it once: such a
    /// request may be sent again when a connection broke after it was
    /// written, before its whole answer came.
    pub fn idempotent(&self) -> bool {
        match self {
            // Reads, and a push or rescan: a second one finds the work done.
            Request::Status
            | Request::Verify { .. }
            | Request::Apps
            | Request::Sessions(_)
            | Request::Show { .. }
            | Request::Path { .. }
            | Request::Push { .. }
            | Request::Refresh
            | Request::PushPreview { .. }
            | Request::Blocked
            | Request::History(_) => true,
            Request::Delete { dry_run, .. } => *dry_run,
            // A second one would report as unchanged what the first deleted.
            Request::Purge(p) => p.dry_run,
            Request::Dedupe(d) => d.dry_run,
            // A second notification is a second one on every device.
            Request::Notify(n) => n.dry_run,
            // A second status change or sign-in would report "already so"
            // for what the first one did; a stream is not an answer.
            Request::SetStatus { .. }
            | Request::Authenticate { .. }
            | Request::AuthenticateFrom { .. }
            | Request::Watch { .. }
            | Request::UserInfo { .. }
            | Request::Logout { .. }
            | Request::Block(_)
            | Request::Unblock { .. } => false,
        }
    }

    /// Whether its cost grows with the data: with every session on disk (a
    /// listing, a rescan, a push, a change followed by a push), or with the
    /// number of sessions it names. A slow answer to such a request is no
    /// sign of a daemon gone, so it is not given the usual request timeout.
    pub fn scales_with_data(&self) -> bool {
        match self {
            // A notification goes to every device of an app, with retries.
            Request::Sessions(_) | Request::Push { .. } | Request::Refresh | Request::Notify(_) => {
                true
            }
            // Every session's activity (a stat of each file), or every
            // history file, is read.
            Request::PushPreview { .. }
            | Request::History(_)
            | Request::Dedupe(_)
            | Request::Purge(_) => true,
            Request::Block(b) => match &b.target {
                BlockTarget::Sessions(s) => s.len() > 1,
                BlockTarget::Device { .. } => false,
            },
            Request::SetStatus { sessions, push, .. } => *push || sessions.len() > 1,
            Request::Delete {
                sessions,
                push,
                dry_run,
            } => (*push && !*dry_run) || sessions.len() > 1,
            Request::Apps
            | Request::Show { .. }
            | Request::Path { .. }
            | Request::Verify { .. }
            | Request::Authenticate { .. }
            | Request::AuthenticateFrom { .. }
            | Request::Status
            | Request::Watch { .. }
            | Request::UserInfo { .. }
            | Request::Logout { .. }
            | Request::Unblock { .. }
            | Request::Blocked => false,
        }
    }
}

/// "1 added, 2 updated, 0 removed, 3 unchanged, 0 invalid", then ", 1
/// being written" when a file was.
impl fmt::Display for PushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} removed, {} unchanged, {} invalid",
            self.added,
            self.updated,
            self.removed,
            self.unchanged,
            self.invalid.len()
        )?;
        match self.writing.len() {
            0 => Ok(()),
            n => write!(f, ", {n} being written"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InvalidFile, SessionFilter, Status};

    #[test]
    fn only_reads_and_settled_effects_are_sent_twice() {
        assert!(Request::Push { full: false }.idempotent());
        assert!(Request::Sessions(SessionFilter::default()).idempotent());
        let delete = |dry_run| Request::Delete {
            sessions: vec!["abcd".into()],
            push: false,
            dry_run,
        };
        assert!(delete(true).idempotent());
        assert!(!delete(false).idempotent());
        assert!(!Request::Authenticate { body: "{}".into() }.idempotent());
    }

    #[test]
    fn a_change_scales_with_the_data_when_it_pushes_or_names_many() {
        let set = |n: usize, push| Request::SetStatus {
            status: Status::Accepted,
            sessions: vec!["abcd".into(); n],
            push,
        };
        assert!(!set(1, false).scales_with_data());
        assert!(set(1, true).scales_with_data());
        assert!(set(2, false).scales_with_data());
        let dry = Request::Delete {
            sessions: vec!["abcd".into()],
            push: true,
            dry_run: true,
        };
        assert!(!dry.scales_with_data(), "a dry run pushes nothing");
        assert!(Request::Refresh.scales_with_data());
        assert!(!Request::Status.scales_with_data());
    }

    #[test]
    fn operators_requests_are_classified() {
        use crate::{BlockRequest, PurgeRequest};
        let purge = |dry_run| {
            Request::Purge(PurgeRequest {
                inactive_secs: 60,
                dry_run,
                ..Default::default()
            })
        };
        assert!(purge(true).idempotent() && !purge(false).idempotent());
        assert!(purge(true).scales_with_data());
        assert!(Request::PushPreview { full: false }.idempotent());
        let block = |n: usize| {
            Request::Block(BlockRequest {
                target: BlockTarget::Sessions(vec!["abcd".into(); n]),
                reason: None,
            })
        };
        assert!(!block(1).idempotent());
        assert!(!block(1).scales_with_data() && block(2).scales_with_data());
        assert!(Request::Blocked.idempotent() && !Request::Blocked.scales_with_data());
    }

    #[test]
    fn a_push_report_reads_as_one_sentence() {
        let p = PushReport {
            added: 1,
            updated: 2,
            removed: 0,
            unchanged: 3,
            invalid: vec![InvalidFile {
                path: "/x".into(),
                code: 2,
                error: "not JSON".into(),
            }],
            writing: Vec::new(),
        };
        assert_eq!(
            p.to_string(),
            "1 added, 2 updated, 0 removed, 3 unchanged, 1 invalid"
        );
        let w = PushReport {
            writing: p.invalid.clone(),
            ..p
        };
        assert_eq!(
            w.to_string(),
            "1 added, 2 updated, 0 removed, 3 unchanged, 1 invalid, 1 being written"
        );
    }
}
