//! A file being written keeps its last good reading.
//!
//! A writer that rewrites a session file in place (truncate, then write)
//! leaves it empty or half written for as long as it takes. Read then, the
//! file would turn invalid and the next push would drop a live session. So
//! an invalid reading of a file that someone still has open for writing is
//! *held*: the disk view keeps what it had (the last good entry, or nothing
//! for a new file) until the writer closes the file, or until the grace
//! (`write_grace_ms`) has passed since the first such reading — then what
//! the file holds is taken, valid or not. A valid reading is always taken.
//!
//! Who has a file open for writing is the store's to ask (a read lease,
//! [`Writer`]); where it cannot tell, the watcher's word decides: a file
//! written into and not closed since (inotify), or changed at the poller's
//! last pass.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Whether anyone has a file open for writing, as the store can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Open,
    /// Nobody has; or the file cannot be opened as a regular file at all,
    /// which no writer is going to change.
    Closed,
    /// The store cannot tell (no lease can be taken here).
    Unknown,
}

#[derive(Debug, Clone)]
struct Held {
    since: Instant,
    code: u8,
    error: String,
    /// Its grace has passed and it was handed out to be read again.
    due: bool,
}

/// A held file, as a push or `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFile {
    pub path: PathBuf,
    /// What the file holds now: 4D's code and why.
    pub code: u8,
    pub error: String,
}

/// Hints remembered before those past their time are first dropped.
const HINTS: usize = 4096;

/// The held files, and the watcher's word on who is writing.
#[derive(Debug, Default)]
pub struct Writes {
    held: HashMap<PathBuf, Held>,
    /// Files the watcher saw written into and not closed since, each until
    /// when that word counts.
    hints: HashMap<PathBuf, Instant>,
    /// How many hints make the next sweep of those past their time: twice
    /// what the last one left, so a flood costs no sweep per event.
    sweep_at: usize,
}

impl Writes {
    /// The watcher saw `path` written into: where the store cannot tell,
    /// it counts as open for writing until `until`, or until it is closed.
    pub fn note_writing(&mut self, path: &Path, now: Instant, until: Instant) {
        if self.hints.len() >= self.sweep_at.max(HINTS) {
            self.hints.retain(|_, u| *u > now);
            self.sweep_at = self.hints.len() * 2;
        }
        self.hints.insert(path.to_path_buf(), until);
    }

    /// The watcher saw a writer close `path`, or the file replaced or removed.
    pub fn note_closed(&mut self, path: &Path) {
        if !self.hints.is_empty() {
            self.hints.remove(path);
        }
    }

    /// Whether an invalid reading of `path` (4D's `code`, `error`) is held
    /// back, the disk view keeping what it had: while `writer` (or, when the
    /// store cannot tell, the watcher) says the file is open for writing,
    /// and `grace` has not passed since its first held reading.
    pub fn hold(
        &mut self,
        path: &Path,
        writer: Writer,
        (code, error): (u8, &str),
        now: Instant,
        grace: Duration,
    ) -> bool {
        let open = match writer {
            Writer::Open => true,
            Writer::Closed => false,
            Writer::Unknown => self.hints.get(path).is_some_and(|until| now < *until),
        };
        let since = self.held.get(path).map_or(now, |h| h.since);
        if !open || now.saturating_duration_since(since) >= grace {
            self.held.remove(path);
            return false;
        }
        let held = self.held.entry(path.to_path_buf()).or_insert(Held {
            since,
            code,
            error: String::new(),
            due: false,
        });
        held.code = code;
        if held.error != error {
            held.error = error.to_string();
        }
        true
    }

    /// A reading of `path` was taken: it is not held (any more).
    pub fn release(&mut self, path: &Path) {
        if !self.held.is_empty() {
            self.held.remove(path);
        }
    }

    /// Keeps only the holds `keep` names (a rescan decided every file anew).
    pub fn retain_held(&mut self, keep: impl Fn(&Path) -> bool) {
        self.held.retain(|p, _| keep(p));
    }

    pub fn is_held(&self, path: &Path) -> bool {
        self.held.contains_key(path)
    }

    pub fn any_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// The held files whose grace has not passed, by path.
    pub fn held_files(&self) -> Vec<HeldFile> {
        let mut out: Vec<HeldFile> = self
            .held
            .iter()
            .filter(|(_, h)| !h.due)
            .map(|(p, h)| HeldFile {
                path: p.clone(),
                code: h.code,
                error: h.error.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Every held file, to be read again (the poller's settle rule).
    pub fn held_paths(&self) -> Vec<PathBuf> {
        self.held.keys().cloned().collect()
    }

    /// When the next grace ends.
    pub fn next_expiry(&self, grace: Duration) -> Option<Instant> {
        self.held
            .values()
            .filter(|h| !h.due)
            .map(|h| h.since + grace)
            .min()
    }

    /// The held files whose grace has passed at `now`, to be read again
    /// (and then taken as they are). Each is handed out once: one that is
    /// not read again (it is shadowed meanwhile, say) is not asked for in
    /// a loop, and shows no more as being written.
    pub fn take_due(&mut self, now: Instant, grace: Duration) -> Vec<PathBuf> {
        self.held
            .iter_mut()
            .filter(|(_, h)| !h.due && h.since + grace <= now)
            .map(|(p, h)| {
                h.due = true;
                p.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_millis(2000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_invalid_reading_is_held_while_open_and_within_the_grace() {
        let (mut w, t0, p) = (Writes::default(), Instant::now(), Path::new("/m/A/ab"));
        assert!(w.hold(p, Writer::Open, (2, "empty"), t0, GRACE));
        assert!(w.hold(p, Writer::Open, (2, "half"), t0 + ms(1500), GRACE));
        assert_eq!(w.held_files()[0].error, "half");
        assert_eq!(w.next_expiry(GRACE), Some(t0 + GRACE));
        // The grace runs from the first held reading, not the last.
        assert!(!w.hold(p, Writer::Open, (2, "half"), t0 + GRACE, GRACE));
        assert!(!w.is_held(p));
        // Closed: taken at once, and the hold ends.
        assert!(w.hold(p, Writer::Open, (2, "empty"), t0, GRACE));
        assert!(!w.hold(p, Writer::Closed, (2, "empty"), t0 + ms(10), GRACE));
        assert!(!w.any_held());
    }

    #[test]
    fn no_grace_holds_nothing() {
        let (mut w, t0, p) = (Writes::default(), Instant::now(), Path::new("/m/A/ab"));
        assert!(!w.hold(p, Writer::Open, (2, "empty"), t0, Duration::ZERO));
        assert!(!w.any_held());
    }

    #[test]
    fn where_the_store_cannot_tell_the_watcher_decides() {
        let (mut w, t0, p) = (Writes::default(), Instant::now(), Path::new("/m/A/ab"));
        assert!(!w.hold(p, Writer::Unknown, (2, "empty"), t0, GRACE));
        w.note_writing(p, t0, t0 + ms(100));
        assert!(w.hold(p, Writer::Unknown, (2, "empty"), t0 + ms(50), GRACE));
        // The word lapses (the poller saw no change since), or a close ends it.
        assert!(!w.hold(p, Writer::Unknown, (2, "empty"), t0 + ms(100), GRACE));
        w.note_writing(p, t0, t0 + GRACE);
        w.note_closed(p);
        assert!(!w.hold(p, Writer::Unknown, (2, "empty"), t0 + ms(1), GRACE));
        // The store's answer wins over the watcher's word.
        w.note_writing(p, t0, t0 + GRACE);
        assert!(!w.hold(p, Writer::Closed, (2, "empty"), t0 + ms(1), GRACE));
    }

    #[test]
    fn a_passed_grace_is_handed_out_once() {
        let (mut w, t0) = (Writes::default(), Instant::now());
        let (a, b) = (Path::new("/m/A/aa"), Path::new("/m/A/bb"));
        assert!(w.hold(a, Writer::Open, (2, "empty"), t0, GRACE));
        assert!(w.hold(b, Writer::Open, (3, "no status"), t0 + ms(500), GRACE));
        assert!(w.take_due(t0 + ms(1999), GRACE).is_empty());
        assert_eq!(w.take_due(t0 + GRACE, GRACE), vec![a.to_path_buf()]);
        assert!(w.take_due(t0 + GRACE, GRACE).is_empty());
        // Due files no longer count as being written, nor for the timer.
        assert_eq!(w.next_expiry(GRACE), Some(t0 + ms(2500)));
        let shown: Vec<PathBuf> = w.held_files().into_iter().map(|h| h.path).collect();
        assert_eq!(shown, vec![b.to_path_buf()]);
        // Read again, a due file is taken as it is.
        assert!(!w.hold(a, Writer::Open, (2, "empty"), t0 + GRACE, GRACE));
        w.release(b);
        assert!(!w.any_held());
    }

    #[test]
    fn hints_past_their_time_are_swept_and_a_flood_is_not_swept_per_event() {
        let (mut w, t0) = (Writes::default(), Instant::now());
        let path = |i: usize| PathBuf::from(format!("/m/A/{i:08x}"));
        for i in 0..(HINTS * 3) {
            w.note_writing(&path(i), t0 + ms(i as u64), t0 + ms(i as u64 + 1));
        }
        assert!(w.hints.len() <= HINTS + 1);
        // Hints all in force: kept; each sweep waits for twice as many.
        let mut w = Writes::default();
        for i in 0..(HINTS * 3) {
            w.note_writing(&path(i), t0, t0 + GRACE);
        }
        assert_eq!(w.hints.len(), HINTS * 3);
        assert_eq!(w.sweep_at, HINTS * 4, "swept at 4096 and 8192 only");
    }
}
