//! Reconciliation: what a read of `MobileApps` found — a file's entry, a
//! transient error, a folder listed or scanned, a folder gone — turned into
//! changes of the [`DiskView`] and `watch` events. No I/O and no locks: the
//! core reads, locks and retries; these rules decide, each written once:
//!
//! - **One name per session.** Ids match regardless of case, so of several
//!   files whose names differ only in case one stands for the session: the
//!   name that sorts first ([`stands_before`]); the others are *shadowed*,
//!   and one of them takes over when it goes.
//! - **The smallest id names the app** ([`names_the_app`]): of an app
//!   folder's valid sessions, the one with the smallest id says what the app
//!   is called; when it goes or turns invalid, the next one is read.
//! - **A transient error keeps the last good reading** (out of descriptors,
//!   EIO, …): the entry stays, the error is counted, the file is read again
//!   later. Only content, or a permanent condition, changes an entry.
//! - **A folder that is gone takes its entries with it** (a `deleted` event
//!   each); one that cannot be listed keeps them and is marked unreadable.
//! - **A file being written keeps its last good reading** ([`Writes`]):
//!   invalid while a writer still has it open, it counts as unchanged.
//!
//! What a rule needs read next is a [`FollowUp`]; what the core must log,
//! count and retry is gathered in [`Effects`].

mod file;
mod folder;
mod writing;

pub use file::{file_read, shadowed, standing_rival};
pub use folder::{
    folder_gone, folder_listed, folder_scanned, folder_unreadable, label_read, rescan,
    rescan_begin, rescan_end,
};
pub use writing::{HeldFile, Writer, Writes};

use mobile_session_proto::Event;

use super::app::AppLabel;
#[cfg(doc)]
use super::view::DiskView;
use super::view::{AppMeta, AppView, DiskEntry};

/// A read that says nothing about a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// It may pass on its own (out of descriptors or memory, EIO, …).
    pub transient: bool,
    pub message: String,
}

/// What reading one session file gave.
#[derive(Debug)]
pub enum FileRead {
    /// The file's entry (valid, or invalid for its content or a permanent
    /// condition such as EACCES); for a valid file, what it says of its app.
    Found(DiskEntry, Option<AppLabel>),
    /// No such file (any more).
    Gone,
    /// A transient error: keep the last reading, read again later.
    Transient(Failure),
    /// The app folder cannot be opened: nothing is known of the file.
    FolderUnreadable(Failure),
    /// A writer still has the file open and it is not valid yet: the last
    /// reading stays ([`Writes`]).
    Writing,
}

/// One session file as a scan found it.
#[derive(Debug)]
pub enum Scanned {
    /// The same content as the entry the view holds: not validated again.
    Same,
    /// Read and validated.
    Read(DiskEntry),
    /// A transient error: keep the last reading; `name` is the file's name
    /// on disk, to read again.
    Transient { name: String, failure: Failure },
}

/// One app folder as a scan found it.
#[derive(Debug)]
pub struct FolderScan {
    pub folder: String,
    /// Every session file that stands for its session, by lower-case id, in
    /// no particular order; `Err` when the folder could not be listed.
    pub entries: Result<Vec<(String, Scanned)>, Failure>,
    /// What the valid session with the smallest id read says of its app,
    /// with that id.
    pub session_label: Option<(String, AppLabel)>,
    pub manifest_label: Option<AppLabel>,
    /// Files not read: a name differing only in case stands for their session.
    pub shadowed: Vec<String>,
}

/// Something to read again after a transient error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Retry {
    /// A session file: its folder and its name as on disk.
    File(String, String),
    /// An app folder's listing.
    Folder(String),
}

/// A read a rule needs next; the core does it, then reconciles what it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// A file that takes over for its session (the name standing for it went).
    Read { folder: String, name: String },
    /// What session `id` (file `name`) says of its app: it names the app now.
    Label {
        folder: String,
        id: String,
        name: String,
    },
}

/// What the core logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A file is ignored: `by`, a name differing only in case, stands for it.
    Shadowed {
        folder: String,
        name: String,
        by: String,
    },
    /// A listing holds names that differ only in case; `name` is ignored.
    CaseClash { folder: String, name: String },
    /// A file could not be read for now; its last reading is kept.
    Transient {
        folder: String,
        name: String,
        failure: Failure,
    },
    /// An app folder cannot be listed (it was readable until now).
    FolderUnreadable { folder: String, failure: Failure },
    /// An app folder that could not be listed can be again.
    FolderReadable { folder: String },
}

/// Where the `watch` events of the view's changes go.
pub trait Sink {
    fn send(&self, event: Event);
}

impl<F: Fn(Event)> Sink for F {
    fn send(&self, event: Event) {
        self(event)
    }
}

/// What reconciling asks of the core besides the view's changes: events
/// (sent as they happen, and only built when someone follows `watch`),
/// retries, counts, log lines and further reads.
pub struct Effects<'a> {
    sink: Option<&'a dyn Sink>,
    /// Reads to try again after a backoff.
    pub schedule: Vec<Retry>,
    /// Retries done with: read fine, or nothing to read any more.
    pub forget: Vec<Retry>,
    /// Everything was read (a rescan): the retries not in `schedule` are done with.
    pub only_scheduled: bool,
    /// Transient read errors met (`status` counts them).
    pub read_errors: u64,
    pub notes: Vec<Note>,
    /// In order.
    pub follow_ups: Vec<FollowUp>,
}

impl<'a> Effects<'a> {
    /// `sink` receives the events; `None` when nobody would see them.
    pub fn new(sink: Option<&'a dyn Sink>) -> Self {
        Self {
            sink,
            schedule: Vec::new(),
            forget: Vec::new(),
            only_scheduled: false,
            read_errors: 0,
            notes: Vec::new(),
            follow_ups: Vec::new(),
        }
    }

    /// Sends the event `make` builds, if anyone listens.
    fn emit(&self, make: impl FnOnce() -> Option<Event>) {
        if let Some(sink) = self.sink {
            if let Some(event) = make() {
                sink.send(event);
            }
        }
    }

    /// A file is read fine, or is gone: its retry is done with.
    fn file_done(&mut self, folder: &str, name: &str) {
        self.forget.push(Retry::File(folder.into(), name.into()));
    }

    /// A transient error on a file whose last reading is kept: counted,
    /// said, and read again later.
    fn keep_last_reading(&mut self, folder: &str, name: &str, failure: Failure) {
        self.read_errors += 1;
        self.schedule.push(Retry::File(folder.into(), name.into()));
        self.notes.push(Note::Transient {
            folder: folder.into(),
            name: name.into(),
            failure,
        });
    }
}

/// Of two names of one session (equal but for case), whether `a` stands
/// before `b`: the one that sorts first in byte order (upper case first),
/// so every scan picks the same one. (A `BTreeSet` of names iterates in
/// this order.)
pub fn stands_before(a: &str, b: &str) -> bool {
    a < b
}

/// Splits a folder's session file names into the ones that stand for their
/// session (sorted by id) and the ones shadowed by a name differing only in
/// case ([`stands_before`]).
pub fn one_name_per_id(mut names: Vec<String>) -> (Vec<String>, Vec<String>) {
    // By id (case folded byte by byte, allocating nothing), then the name
    // that stands first. Without an upper-case letter the names are the
    // ids, and a plain sort is that order (names in a folder are unique).
    if names
        .iter()
        .any(|n| n.bytes().any(|c| c.is_ascii_uppercase()))
    {
        names.sort_by(|a, b| {
            a.bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
                .then_with(|| a.cmp(b))
        });
    } else {
        names.sort_unstable();
    }
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    let mut shadowed = Vec::new();
    for n in names {
        match kept.last() {
            Some(k) if k.eq_ignore_ascii_case(&n) => shadowed.push(n),
            _ => kept.push(n),
        }
    }
    (kept, shadowed)
}

/// Whether what valid session `id` says of its app names the app, when its
/// label now comes from session `current`: the smallest (lower-case) id
/// names it, and a newer reading of that same session replaces the older.
pub fn names_the_app(id: &str, current: Option<&str>) -> bool {
    current.is_none_or(|c| id <= c)
}

/// The session that names the app: the valid one with the smallest id,
/// with its file name.
pub fn label_source(app: &AppView) -> Option<(&str, &str)> {
    // Sessions are kept in id order: the first valid one is the smallest.
    app.sessions
        .iter()
        .find(|(_, e)| e.state.is_ok())
        .map(|(id, e)| (id.as_str(), &*e.name))
}

/// Takes what session `id` says of its app if it names the app.
fn offer_label(meta: &mut AppMeta, id: &str, label: AppLabel) {
    let current = meta.session_label.as_ref().map(|(from, _)| from.as_str());
    if names_the_app(id, current) {
        meta.session_label = Some((id.to_string(), label));
    }
}

/// The folder could be opened: it is not unreadable (any more).
fn mark_readable(app: &mut AppView, folder: &str, fx: &mut Effects<'_>) {
    if std::mem::replace(&mut app.meta.unreadable, false) {
        fx.notes.push(Note::FolderReadable {
            folder: folder.into(),
        });
    }
}

/// Keeps the label coming from [`label_source`] after sessions were lost
/// or read together: when it does not, the label in hand (`fresh`, read
/// with the files) is taken if it is that session's, else that session is
/// asked for it.
fn recheck_label(
    app: &mut AppView,
    folder: &str,
    fresh: Option<(String, AppLabel)>,
    fx: &mut Effects<'_>,
) {
    let source = label_source(app).map(|(id, name)| (id.to_string(), name.to_string()));
    let Some((id, name)) = source else {
        app.meta.session_label = None;
        return;
    };
    match fresh {
        Some((from, label)) if from == id => {
            app.meta.session_label = Some((from, label));
        }
        _ if app
            .meta
            .session_label
            .as_ref()
            .is_some_and(|(from, _)| *from == id) => {}
        _ => {
            fx.follow_ups.push(FollowUp::Label {
                folder: folder.into(),
                id,
                name,
            });
            app.meta.session_label = None;
        }
    }
}

#[cfg(test)]
mod tests;
