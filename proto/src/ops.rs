//! What the operators' requests carry and answer: purge by inactivity,
//! duplicates, the deny-list of devices, and the audit history. Times are
//! milliseconds since the Unix epoch, as in [`crate::Event`].

use serde::{Deserialize, Serialize};

use crate::{ChangedSession, PushReport, Status};

/// How `sessions` orders its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionSort {
    /// (folder, id), streamed page by page as the views are read.
    #[default]
    Id,
    /// By activity, the later of last seen and the file's last write,
    /// oldest first; the rows are gathered whole before the first page.
    Activity,
}

/// `purge --inactive DUR [APP]`: the sessions whose activity is older than
/// the cutoff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRequest {
    /// APP: a folder name, or an app id when unambiguous.
    pub app: Option<String>,
    /// The cutoff is the daemon's now minus this.
    pub inactive_secs: u64,
    /// An absolute cutoff (ms), which wins over `inactive_secs`: the one a
    /// dry run answered, so that what was confirmed is what is deleted.
    pub cutoff_ms: Option<u64>,
    pub dry_run: bool,
    pub push: bool,
}

/// `dedupe [APP]`: of each group of sessions sharing an app and a
/// `device.id` or a push token, all but the most recently active.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupeRequest {
    pub app: Option<String>,
    pub dry_run: bool,
    pub push: bool,
}

/// What `block` keeps out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockTarget {
    /// The devices of these sessions (SESSION arguments).
    Sessions(Vec<String>),
    /// One device of one app: APP and its `device.id`.
    Device { app: String, device: String },
}

// A device id may be an 8 KiB DeviceCheck token: its length is enough in a log.
impl std::fmt::Debug for BlockTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockTarget::Sessions(s) => f.debug_tuple("Sessions").field(s).finish(),
            BlockTarget::Device { app, device } => f
                .debug_struct("Device")
                .field("app", app)
                .field("device", &format_args!("<{} bytes>", device.len()))
                .finish(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRequest {
    pub target: BlockTarget,
    /// Shown to the device as the refusal's `statusText`.
    pub reason: Option<String>,
}

/// A session `purge` or `dedupe` deletes (or would, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedSession {
    pub app: String,
    pub id: String,
    pub path: String,
    pub status: Option<Status>,
    /// The file's `device` object as JSON text.
    pub device: String,
    pub last_seen_ms: Option<u64>,
    /// The file's last write.
    pub modified_ms: Option<u64>,
    /// `dedupe`: the id of the session kept in its place.
    pub kept: Option<String>,
    /// False when it could not be deleted as planned (its file changed or
    /// went meanwhile, or it was seen since).
    pub changed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalReport {
    pub dry_run: bool,
    /// `purge`: the activity cutoff used (ms).
    pub cutoff_ms: Option<u64>,
    pub sessions: Vec<RemovedSession>,
    pub push: Option<PushReport>,
}

/// One device on the deny-list.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockEntry {
    /// The app folder (or the APP given, when no folder had it yet).
    pub app: String,
    pub device: String,
    pub reason: Option<String>,
    pub time_ms: u64,
    /// Who blocked it.
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub process: Option<String>,
}

impl std::fmt::Debug for BlockEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockEntry")
            .field("app", &self.app)
            .field("device", &format_args!("<{} bytes>", self.device.len()))
            .field("reason", &self.reason)
            .field("time_ms", &self.time_ms)
            .field("uid", &self.uid)
            .finish()
    }
}

/// What `block` or `unblock` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockReport {
    /// `block`: the entries added or already there; `unblock`: the entry
    /// lifted (none when the device was not blocked).
    pub entries: Vec<BlockEntry>,
    /// `block`: the sessions of those devices, deleted and out of the live view.
    pub sessions: Vec<ChangedSession>,
}

/// `history [SESSION|APP] [--since DUR]`, one page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// A SESSION (id, prefix of 4+ hex characters, APP/ID) or an APP.
    pub target: Option<String>,
    /// Only records of the last this many seconds.
    pub since_secs: Option<u64>,
    /// Where the previous page stopped.
    pub cursor: Option<HistoryCursor>,
}

/// A place in the history files that survives their rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCursor {
    /// The file's inode.
    pub file: u64,
    pub offset: u64,
}

/// One change made through the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time_ms: u64,
    /// The caller, from the socket's peer credentials.
    pub uid: Option<u32>,
    pub pid: Option<u32>,
    pub process: Option<String>,
    /// `status`, `delete`, `purge`, `dedupe`, `block`, `unblock`,
    /// `sign-in`, `user-info`, `logout`, `push`, `notify`.
    pub action: String,
    pub app: Option<String>,
    pub id: Option<String>,
    /// JSON text: a status for a status change, `null`, or an object.
    pub before: String,
    pub after: String,
}
