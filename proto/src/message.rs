//! One [`Request`] and one [`Response`] enum, and the plain rows they carry.
//! Append new variants and fields at the end only.

use serde::{Deserialize, Serialize};

use crate::notify::{NotifyCounts, NotifyReply, NotifyRequest};
use crate::ops::{
    AuditRecord, BlockEntry, BlockReport, BlockRequest, DedupeRequest, HistoryCursor, HistoryQuery,
    PurgeRequest, RemovalReport, SessionSort,
};

/// A session's status as 4D knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Accepted,
    Pending,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(Status::Accepted),
            "pending" => Some(Status::Pending),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Apps,
    Sessions(SessionFilter),
    Show {
        session: String,
    },
    Path {
        session: String,
    },
    SetStatus {
        status: Status,
        sessions: Vec<String>,
        push: bool,
    },
    /// With `dry_run`, nothing is deleted (nor pushed): the answer says
    /// what a deletion would do, session by session.
    Delete {
        sessions: Vec<String>,
        push: bool,
        dry_run: bool,
    },
    Push {
        full: bool,
    },
    Refresh,
    Verify {
        token: String,
    },
    /// The JSON body a mobile app posts to `$authenticate`.
    Authenticate {
        body: String,
    },
    Status,
    /// Streams events; `app` (an APP argument) keeps only that app's.
    Watch {
        app: Option<String>,
    },
    /// 4D's `$userInfo`: `body` is `{"userInfo":{…},"device":{"token":"…"}}`,
    /// stored in the session of `token` (a live, accepted session).
    UserInfo {
        token: String,
        body: String,
    },
    /// 4D's `$logout`: deletes the session of `token` and drops it from the
    /// live view at once.
    Logout {
        token: String,
    },
    /// `Authenticate` with the IP address the front saw the app at, stored
    /// as the session's `session.ip` and told to the sign-in hook.
    AuthenticateFrom {
        body: String,
        ip: String,
    },
    /// Sends a push notification to the devices of an app's live sessions.
    Notify(NotifyRequest),
    /// What `Push` would answer now, changing nothing.
    PushPreview {
        full: bool,
    },
    /// Deletes the sessions inactive since a cutoff.
    Purge(PurgeRequest),
    /// Deletes all but the most recently active session of each group of
    /// duplicates.
    Dedupe(DedupeRequest),
    /// Puts devices on the deny-list and deletes their sessions.
    Block(BlockRequest),
    /// Takes one device off the deny-list.
    Unblock {
        app: String,
        device: String,
    },
    /// The deny-list.
    Blocked,
    /// One page of the audit history.
    History(HistoryQuery),
}

// Tokens are bearer credentials and sign-in bodies carry a password: a
// request printed with {:?} (a log line, a panic) shows neither.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Apps => f.write_str("Apps"),
            Request::Sessions(filter) => f.debug_tuple("Sessions").field(filter).finish(),
            Request::Show { session } => f.debug_struct("Show").field("session", session).finish(),
            Request::Path { session } => f.debug_struct("Path").field("session", session).finish(),
            Request::SetStatus {
                status,
                sessions,
                push,
            } => f
                .debug_struct("SetStatus")
                .field("status", status)
                .field("sessions", sessions)
                .field("push", push)
                .finish(),
            Request::Delete {
                sessions,
                push,
                dry_run,
            } => f
                .debug_struct("Delete")
                .field("sessions", sessions)
                .field("push", push)
                .field("dry_run", dry_run)
                .finish(),
            Request::Push { full } => f.debug_struct("Push").field("full", full).finish(),
            Request::Refresh => f.write_str("Refresh"),
            Request::Verify { token } => f
                .debug_struct("Verify")
                .field("token", &format_args!("<{} bytes>", token.len()))
                .finish(),
            Request::Authenticate { body } => f
                .debug_struct("Authenticate")
                .field("body", &format_args!("<{} bytes>", body.len()))
                .finish(),
            Request::Status => f.write_str("Status"),
            Request::Watch { app } => f.debug_struct("Watch").field("app", app).finish(),
            Request::UserInfo { token, body } => f
                .debug_struct("UserInfo")
                .field("token", &format_args!("<{} bytes>", token.len()))
                .field("body", &format_args!("<{} bytes>", body.len()))
                .finish(),
            Request::Logout { token } => f
                .debug_struct("Logout")
                .field("token", &format_args!("<{} bytes>", token.len()))
                .finish(),
            Request::AuthenticateFrom { body, ip } => f
                .debug_struct("AuthenticateFrom")
                .field("body", &format_args!("<{} bytes>", body.len()))
                .field("ip", ip)
                .finish(),
            Request::Notify(n) => f.debug_tuple("Notify").field(n).finish(),
            Request::PushPreview { full } => {
                f.debug_struct("PushPreview").field("full", full).finish()
            }
            Request::Purge(p) => f.debug_tuple("Purge").field(p).finish(),
            Request::Dedupe(d) => f.debug_tuple("Dedupe").field(d).finish(),
            Request::Block(b) => f.debug_tuple("Block").field(b).finish(),
            Request::Unblock { app, device } => f
                .debug_struct("Unblock")
                .field("app", app)
                .field("device", &format_args!("<{} bytes>", device.len()))
                .finish(),
            Request::Blocked => f.write_str("Blocked"),
            Request::History(h) => f.debug_tuple("History").field(h).finish(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFilter {
    pub app: Option<String>,
    pub status: Option<Status>,
    pub email: Option<String>,
    pub device_token: Option<String>,
    /// Only the invalid files (each with its code).
    pub invalid: bool,
    /// Only sessions active (last seen or file written) within this many
    /// seconds.
    pub seen_after_secs: Option<u64>,
    /// Only sessions not active within this many seconds.
    pub seen_before_secs: Option<u64>,
    /// Only the sessions that share an app and a `device.id` or a push
    /// token with another, group by group.
    pub duplicates: bool,
    /// `Activity` (implied by the two filters above) gathers the rows whole.
    pub sort: SessionSort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Apps(Vec<AppRow>),
    SessionsPage {
        rows: Vec<SessionRow>,
        done: bool,
    },
    /// The session file's JSON text as stored (BOM removed).
    Show {
        json: String,
    },
    Path {
        path: String,
    },
    Changed(ChangeReport),
    Pushed(PushReport),
    Verified(VerifyReply),
    Authenticated(AuthReply),
    Status(DaemonStatus),
    Event(Event),
    Error(ErrorReply),
    /// `UserInfo` stored its body in this session's file.
    UserInfoStored(ChangedSession),
    /// `Logout` deleted this session.
    LoggedOut(ChangedSession),
    /// What `Notify` sent, or would send (`dry_run`).
    Notified(NotifyReply),
    /// What `Purge` or `Dedupe` deleted, or would delete.
    Removed(RemovalReport),
    /// What `Block` or `Unblock` did.
    Blocks(BlockReport),
    /// The deny-list, in the order the entries were added.
    BlockList(Vec<BlockEntry>),
    /// Audit records, oldest first; `next` is where the following page
    /// starts (`None`: this was the last).
    HistoryPage {
        records: Vec<AuditRecord>,
        next: Option<HistoryCursor>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRow {
    /// The folder name under `MobileApps`.
    pub folder: String,
    pub app_id: String,
    pub name: Option<String>,
    pub team_id: Option<String>,
    /// Valid session files.
    pub sessions: u64,
    /// Valid session files whose status is pending.
    pub pending: u64,
    /// The daemon cannot list the folder (permissions); its sessions are
    /// kept as they were last read.
    pub unreadable: bool,
}

/// Why a session row differs from the live view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unpushed {
    New,
    Changed,
    Deleted,
    Invalid,
}

impl Unpushed {
    pub fn as_str(self) -> &'static str {
        match self {
            Unpushed::New => "new",
            Unpushed::Changed => "changed",
            Unpushed::Deleted => "deleted",
            Unpushed::Invalid => "invalid",
        }
    }
}

/// One row of `sessions`: a valid file, a live session whose file was
/// deleted or became invalid, or an invalid file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The app's folder name.
    pub app: String,
    /// The session id as stored (the file name for an invalid file).
    pub id: String,
    /// `None` only for an invalid file that is not live.
    pub status: Option<Status>,
    pub email: Option<String>,
    /// The file's `device` object as JSON text (`null` when absent).
    pub device: String,
    pub path: String,
    pub unpushed: Option<Unpushed>,
    /// Why the file is invalid, when it is.
    pub invalid: Option<Invalidity>,
    /// A writer has the file open and it is not valid yet: the row shows
    /// its last good content.
    pub writing: bool,
    /// When the session last passed `verify`, `authenticate` or
    /// `user-info` (ms); `None` when never seen.
    pub last_seen_ms: Option<u64>,
    /// `--duplicates`: the number of the row's group (from 1).
    pub group: Option<u64>,
}

/// Why a session file is invalid: 4D's mobi code (1–4) and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidity {
    pub code: u8,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedSession {
    pub app: String,
    pub id: String,
    pub path: String,
    /// The status now on disk; `None` when the file was deleted.
    pub status: Option<Status>,
    /// False when the file already said so and was left untouched.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    pub sessions: Vec<ChangedSession>,
    /// Present when the command was given `--push`.
    pub push: Option<PushReport>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub invalid: Vec<InvalidFile>,
    /// Files a writer still had open, not valid yet: their last good
    /// content stayed (counted above as it was), with what they hold now.
    pub writing: Vec<InvalidFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidFile {
    pub path: String,
    /// 4D's mobi error code, 1–4: 1 location, 2 JSON, 3 schema, 4 token.
    pub code: u8,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerifyStatus {
    Accepted,
    Pending,
    Unknown,
}

impl VerifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Accepted => "accepted",
            VerifyStatus::Pending => "pending",
            VerifyStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReply {
    pub status: VerifyStatus,
    pub app: Option<String>,
    pub id: Option<String>,
}

impl VerifyReply {
    pub fn unknown() -> Self {
        Self {
            status: VerifyStatus::Unknown,
            app: None,
            id: None,
        }
    }
}

/// The answer to a sign-in, as 4D's `$authenticate` gives it to the apps.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthReply {
    /// False when the sign-in is refused (then nothing was written).
    pub success: bool,
    /// The session id; `None` when refused.
    pub id: Option<String>,
    /// `None` when refused.
    pub status: Option<Status>,
    /// `None` while the session is pending, and when refused.
    pub token: Option<String>,
    pub status_text: String,
    /// The `userInfo` object (JSON text) the decision returned, if any.
    pub user_info: Option<String>,
}

// The token is a bearer credential: keep it out of debug logs.
impl std::fmt::Debug for AuthReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthReply")
            .field("success", &self.success)
            .field("id", &self.id)
            .field("status", &self.status)
            .field("token", &self.token.as_ref().map(|_| crate::REDACTED))
            .field("status_text", &self.status_text)
            .field("user_info", &self.user_info)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub version: String,
    pub protocol: u32,
    pub pid: u32,
    pub uptime_secs: u64,
    pub data_dir: String,
    pub socket: String,
    /// Sessions in the live view.
    pub live: u64,
    /// Valid session files in the disk view.
    pub on_disk: u64,
    /// Rows of `sessions` that carry an unpushed mark.
    pub unpushed: u64,
    /// Invalid session files on disk.
    pub invalid: u64,
    /// How the folder is watched ("inotify", "poll", "off", …), with any problem.
    pub watcher: String,
    /// Full rescans done since start (start-up scan excluded).
    pub rescans: u64,
    pub auto_push: bool,
    /// Open client connections (`watch` streams included).
    pub connections: u64,
    /// Open `watch` streams.
    pub watchers: u64,
    /// The connection limit (`max_connections`).
    pub max_connections: u64,
    /// Transient read errors (EMFILE, EIO, …) since start; the files'
    /// last good entries were kept and the reads retried.
    pub read_errors: u64,
    /// App folders the daemon cannot list; their sessions are kept as last read.
    pub unreadable_folders: Vec<String>,
    /// Session files a writer has open that are not valid yet; each keeps
    /// its last good content meanwhile.
    pub writing: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Created,
    Changed,
    Deleted,
    StatusChanged,
    Pushed,
    Invalid,
    Rescan,
    /// The watcher fell behind and missed `count` events.
    Lagged,
    /// A `notify` command ended; `notify` holds its counts.
    Notified,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Changed => "changed",
            EventKind::Deleted => "deleted",
            EventKind::StatusChanged => "status",
            EventKind::Pushed => "pushed",
            EventKind::Invalid => "invalid",
            EventKind::Rescan => "rescan",
            EventKind::Lagged => "lagged",
            EventKind::Notified => "notified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    /// When it happened: milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub app: Option<String>,
    pub id: Option<String>,
    /// New status for `StatusChanged` and `Created`.
    pub status: Option<Status>,
    /// Validity code for `Invalid`.
    pub code: Option<u8>,
    /// Counts for `Pushed`.
    pub push: Option<PushReport>,
    /// Missed events for `Lagged`, sessions for `Rescan`.
    pub count: Option<u64>,
    pub message: Option<String>,
    /// Counts for `Notified`.
    pub notify: Option<NotifyCounts>,
}

impl Event {
    /// An event of `kind` that happens now.
    pub fn new(kind: EventKind) -> Self {
        let time_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            kind,
            time_ms,
            app: None,
            id: None,
            status: None,
            code: None,
            push: None,
            count: None,
            message: None,
            notify: None,
        }
    }
}

/// What kind of failure a [`Response::Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The request was malformed, or an argument is not acceptable.
    BadRequest,
    /// No session or app matches.
    NotFound,
    /// A prefix or app id matches several; the message lists them.
    Ambiguous,
    /// The session file is invalid and is left alone.
    InvalidFile,
    /// The caller's role does not allow this.
    PermissionDenied,
    /// A file operation failed.
    Io,
    /// The daemon is shutting down.
    ShuttingDown,
    Internal,
    /// The token (of `user-info`, `logout`) names no live session, or one
    /// that is not accepted.
    UnknownToken,
    /// The file changed while the daemon rewrote it, too often to retry;
    /// nothing was written. Try again.
    Conflict,
    /// The daemon serves as many connections as it may.
    Busy,
    /// A sign-in was refused by the policy or its hook.
    Refused,
    /// `notify`: the app has no push credentials, or they cannot be used
    /// (a key file that cannot be read, a service account refused); the
    /// message names the setting to fix. Nothing was sent.
    NotifyConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyRecipients;

    #[test]
    fn debug_hides_secrets() {
        let v = format!(
            "{:?}",
            Request::Verify {
                token: "eyJzZWNyZXQ".into()
            }
        );
        assert!(!v.contains("eyJzZWNyZXQ"), "{v}");
        let a = format!(
            "{:?}",
            Request::Authenticate {
                body: r#"{"password":"hunter2"}"#.into()
            }
        );
        assert!(!a.contains("hunter2"), "{a}");
        let a = format!(
            "{:?}",
            Request::AuthenticateFrom {
                body: r#"{"password":"hunter2"}"#.into(),
                ip: "10.0.0.7".into(),
            }
        );
        assert!(!a.contains("hunter2") && a.contains("10.0.0.7"), "{a}");
        let u = format!(
            "{:?}",
            Request::UserInfo {
                token: "eyJzZWNyZXQ".into(),
                body: r#"{"device":{"token":"apns-secret"}}"#.into()
            }
        );
        assert!(
            !u.contains("eyJzZWNyZXQ") && !u.contains("apns-secret"),
            "{u}"
        );
        let r = AuthReply {
            success: true,
            id: Some("ab".into()),
            status: Some(Status::Accepted),
            token: Some("eyJzZWNyZXQ".into()),
            status_text: String::new(),
            user_info: None,
        };
        assert!(!format!("{r:?}").contains("eyJzZWNyZXQ"));
        let n = format!(
            "{:?}",
            Request::Notify(NotifyRequest {
                recipients: NotifyRecipients {
                    device_tokens: vec!["apns-secret".into()],
                    ..Default::default()
                },
                ..Default::default()
            })
        );
        assert!(
            !n.contains("apns-secret") && n.contains("<1 tokens>"),
            "{n}"
        );
    }
}
