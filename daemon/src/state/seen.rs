//! Last seen: when each session last passed `verify`, `authenticate` or
//! `user-info`.
//!
//! - **Recorded** in the live record's [`SeenCell`] (one relaxed atomic
//!   operation on the `verify` path); a cell that was clean is queued, once,
//!   to be drained.
//! - **Kept** in a table of seconds by session, which takes in the queued
//!   cells whenever it is read (a listing, a purge) or flushed: a record a
//!   push replaced meanwhile loses nothing, and listings read the live
//!   cells besides.
//! - **Persisted** as lines `SECONDS FOLDER/ID`: each flush appends what
//!   changed to `last-seen.journal` in one write, then syncs it; when the
//!   journal outgrows the snapshot (`last-seen`, written atomically), the
//!   snapshot is rewritten with every session the views still have and the
//!   journal emptied. A start reads the snapshot, then the journal (a torn
//!   last line is skipped). So a `kill -9` loses at most one interval.
//!
//! The table is keyed by a hash of the session key (16 bytes a session);
//! the key strings are only needed to write a snapshot, and come from the
//! views then.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{open_append, write_atomic, StateError};
use crate::locks::lock;
use crate::model::names::{write_key, SessionKey};
use crate::model::seen::now_secs;
use crate::model::session::SessionRecord;

/// How often what was seen is written down: a `kill -9` loses at most this.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);
pub const SNAPSHOT: &str = "last-seen";
pub const JOURNAL: &str = "last-seen.journal";
/// The journal is folded into the snapshot once it is larger than this and
/// than the snapshot.
const JOURNAL_FLOOR: u64 = 1 << 20;
/// 9999-12-31T23:59:59Z, the last time RFC 3339 writes: a line past it is
/// corrupt, not a sighting.
const MAX_SECS: u64 = 253_402_300_799;

pub struct SeenStore {
    dir: PathBuf,
    /// `last_seen = false` turns recording off (a reload may turn it on).
    enabled: AtomicBool,
    hasher: RandomState,
    /// Leaf. Seconds by key hash, and what the journal does not have yet.
    table: Mutex<Table>,
    /// Leaf. Cells seen dirty since the last flush.
    queue: Mutex<Vec<(SessionKey, Arc<SessionRecord>)>>,
    /// Taken by flushes only (one at a time, across their file I/O).
    files: Mutex<Files>,
}

#[derive(Default)]
struct Table {
    secs: HashMap<u64, u64>,
    unwritten: HashMap<SessionKey, u64>,
}

#[derive(Default)]
struct Files {
    journal: u64,
    snapshot: u64,
    /// The journal ends in a torn line: the next append starts a new one.
    torn: bool,
}

impl SeenStore {
    /// Reads the snapshot and the journal of `dir`.
    pub fn open(dir: &Path, enabled: bool) -> Result<Self, StateError> {
        let store = Self {
            dir: dir.to_path_buf(),
            enabled: AtomicBool::new(enabled),
            hasher: RandomState::new(),
            table: Mutex::new(Table::default()),
            queue: Mutex::new(Vec::new()),
            files: Mutex::new(Files::default()),
        };
        let mut sizes = Files::default();
        for (name, size) in [
            (SNAPSHOT, &mut sizes.snapshot),
            (JOURNAL, &mut sizes.journal),
        ] {
            let path = dir.join(name);
            let text = match std::fs::read(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StateError::io(&path)(e)),
            };
            *size = text.len() as u64;
            if name == JOURNAL {
                sizes.torn = text.last().is_some_and(|&b| b != b'\n');
            }
            let skipped = store.load(&text);
            if skipped > 0 {
                tracing::warn!(path = %path.display(), "{skipped} unreadable lines skipped");
            }
        }
        *lock(&store.files) = sizes;
        Ok(store)
    }

    /// Takes in lines `SECONDS FOLDER/ID`; returns how many were not such.
    fn load(&self, text: &[u8]) -> usize {
        let mut table = lock(&self.table);
        let mut skipped = 0;
        // A line without its end (a torn append) is not taken.
        let end = text.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let complete = &text[..end];
        for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let parsed = std::str::from_utf8(line).ok().and_then(|l| {
                let (secs, key) = l.split_once(' ')?;
                let (folder, id) = key.rsplit_once('/')?;
                let secs = secs.parse::<u64>().ok().filter(|&s| s <= MAX_SECS)?;
                Some((secs, folder, id))
            });
            match parsed {
                Some((secs, folder, id)) => {
                    let slot = table.secs.entry(self.hash(folder, id)).or_default();
                    *slot = (*slot).max(secs);
                }
                None => skipped += 1,
            }
        }
        skipped
    }

    fn hash(&self, folder: &str, id: &str) -> u64 {
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|k| {
            write_key(k, folder, id);
            let mut h = self.hasher.build_hasher();
            h.write(k.as_bytes());
            h.finish()
        })
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Records that the live session `rec` of `folder` was seen now.
    #[inline]
    pub fn touch(&self, folder: &str, rec: &Arc<SessionRecord>) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        if rec.seen.touch(now_secs()) {
            lock(&self.queue).push((SessionKey::new(folder, &rec.id), rec.clone()));
        }
    }

    /// The table, with every queued sighting in it, for many lookups
    /// under one lock.
    pub fn reader(&self) -> SeenReader<'_> {
        SeenReader {
            store: self,
            table: self.absorb(),
        }
    }

    /// Takes the queued cells into the table (the journal gets them at the
    /// next flush), and hands the table over locked.
    fn absorb(&self) -> MutexGuard<'_, Table> {
        let queued = std::mem::take(&mut *lock(&self.queue));
        let mut table = lock(&self.table);
        for (key, rec) in queued {
            let secs = rec.seen.drain();
            let slot = table
                .secs
                .entry(self.hash(key.folder(), key.id()))
                .or_default();
            if secs > *slot {
                *slot = secs;
                table.unwritten.insert(key, secs);
            }
        }
        table
    }

    /// Writes what was seen since the last flush to the journal. `keys`
    /// lists the sessions to keep when the journal is folded into a new
    /// snapshot (called only then).
    pub fn flush(&self, keys: impl FnOnce() -> Vec<SessionKey>) -> std::io::Result<()> {
        let mut files = lock(&self.files);
        let unwritten = std::mem::take(&mut self.absorb().unwritten);
        let mut lines = String::new();
        if files.torn && !unwritten.is_empty() {
            lines.push('\n');
        }
        for (key, secs) in &unwritten {
            lines.push_str(&format!("{secs} {}\n", key.as_str()));
        }
        if !lines.is_empty() {
            let mut journal = open_append(&self.dir, JOURNAL)?;
            let written = journal
                .write_all(lines.as_bytes())
                .and_then(|()| journal.sync_data());
            if let Err(e) = written {
                // Part of it may be in (a full disk): the next append
                // starts a line of its own.
                files.torn = true;
                // Kept for the next flush (a later sighting wins).
                let mut table = lock(&self.table);
                for (key, secs) in unwritten {
                    let slot = table.unwritten.entry(key).or_default();
                    *slot = (*slot).max(secs);
                }
                return Err(e);
            }
            files.journal += lines.len() as u64;
            files.torn = false;
        }
        if files.journal > JOURNAL_FLOOR.max(files.snapshot) {
            self.fold(&mut files, keys())?;
        }
        Ok(())
    }

    /// Writes the snapshot of `keys` and empties the journal; the table
    /// keeps those keys only.
    fn fold(&self, files: &mut Files, keys: Vec<SessionKey>) -> std::io::Result<()> {
        let mut text = String::new();
        let mut kept = HashMap::with_capacity(keys.len());
        {
            let table = lock(&self.table);
            for key in &keys {
                let h = self.hash(key.folder(), key.id());
                if let Some(&secs) = table.secs.get(&h) {
                    text.push_str(&format!("{secs} {}\n", key.as_str()));
                    kept.insert(h, secs);
                }
            }
        }
        write_atomic(&self.dir, SNAPSHOT, text.as_bytes())?;
        // A crash here replays the journal over the new snapshot: no loss.
        // Replaced, not truncated: a link planted there is not followed.
        write_atomic(&self.dir, JOURNAL, b"")?;
        files.snapshot = text.len() as u64;
        files.journal = 0;
        files.torn = false;
        // Sightings taken in meanwhile stay (they are not written yet).
        let mut table = lock(&self.table);
        let fresh: std::collections::HashSet<u64> = table
            .unwritten
            .keys()
            .map(|k| self.hash(k.folder(), k.id()))
            .collect();
        table
            .secs
            .retain(|h, _| kept.contains_key(h) || fresh.contains(h));
        Ok(())
    }
}

/// Lookups in the table under one lock.
pub struct SeenReader<'a> {
    store: &'a SeenStore,
    table: MutexGuard<'a, Table>,
}

impl SeenReader<'_> {
    /// When session `id` (any case) of `folder` was last seen (seconds),
    /// the live cell `live` (seconds, 0 for never) taken into account.
    pub fn secs(&self, folder: &str, id: &str, live: u64) -> Option<u64> {
        let kept = self.table.secs.get(&self.store.hash(folder, id)).copied();
        kept.max(Some(live)).filter(|&s| s > 0)
    }

    /// [`Self::secs`] in milliseconds, as activity is compared and shown
    /// (a corrupt time saturates rather than wraps).
    pub fn ms(&self, folder: &str, id: &str, live: u64) -> Option<u64> {
        self.secs(folder, id, live).map(|s| s.saturating_mul(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testgen::record;
    use mobile_session_proto::Status;

    fn seen(store: &SeenStore, folder: &str, id: &str) -> Option<u64> {
        store.reader().secs(folder, id, 0)
    }

    #[test]
    fn sightings_survive_a_flush_and_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SeenStore::open(dir.path(), true).unwrap();
        let rec = record("AB12", Status::Accepted, "x");
        store.touch("T.com.a", &rec);
        let live = rec.seen.secs();
        assert!(live > 0);
        // A push may replace the record: the table has the sighting anyway.
        assert_eq!(seen(&store, "T.com.a", "AB12"), Some(live));
        let again = SeenStore::open(dir.path(), true).unwrap();
        assert_eq!(seen(&again, "T.com.a", "ab12"), None, "not flushed yet");
        store.flush(Vec::new).unwrap();
        assert_eq!(seen(&store, "T.com.a", "AB12"), Some(live));
        let again = SeenStore::open(dir.path(), true).unwrap();
        assert_eq!(seen(&again, "T.com.a", "ab12"), Some(live));
        assert_eq!(seen(&again, "T.com.a", "ab13"), None);
    }

    #[test]
    fn off_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SeenStore::open(dir.path(), false).unwrap();
        let rec = record("ab12", Status::Accepted, "x");
        store.touch("f", &rec);
        assert_eq!(rec.seen.secs(), 0);
        assert!(lock(&store.queue).is_empty());
    }

    #[test]
    fn a_torn_line_and_garbage_are_skipped_and_the_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SNAPSHOT), "100 f/ab12\n50 f/cd34\n").unwrap();
        std::fs::write(
            dir.path().join(JOURNAL),
            "90 f/ab12\n200 f/cd34\nnonsense\n300 f/ab1",
        )
        .unwrap();
        let store = SeenStore::open(dir.path(), true).unwrap();
        assert_eq!(seen(&store, "f", "ab12"), Some(100));
        assert_eq!(seen(&store, "f", "cd34"), Some(200));
        assert_eq!(seen(&store, "f", "ab1"), None);
        // The next append does not run on from the torn line.
        store.touch("f", &record("ef56", Status::Accepted, "x"));
        store.flush(Vec::new).unwrap();
        let again = SeenStore::open(dir.path(), true).unwrap();
        assert!(seen(&again, "f", "ef56").is_some());
    }

    #[test]
    fn folding_keeps_the_sessions_still_there() {
        let dir = tempfile::tempdir().unwrap();
        let store = SeenStore::open(dir.path(), true).unwrap();
        let mut files = Files::default();
        lock(&store.table).secs.insert(store.hash("f", "ab12"), 7);
        lock(&store.table).secs.insert(store.hash("f", "cd34"), 8);
        store
            .fold(&mut files, vec![SessionKey::new("f", "AB12")])
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join(SNAPSHOT)).unwrap();
        assert_eq!(text, "7 f/ab12\n");
        assert_eq!(std::fs::read(dir.path().join(JOURNAL)).unwrap().len(), 0);
        assert_eq!(seen(&store, "f", "cd34"), None);
    }

    #[test]
    fn folding_never_writes_through_a_link_planted_at_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let store = SeenStore::open(&state, true).unwrap();
        lock(&store.table).secs.insert(store.hash("f", "ab12"), 7);
        std::os::unix::fs::symlink(&victim, state.join(JOURNAL)).unwrap();
        let mut files = Files::default();
        store
            .fold(&mut files, vec![SessionKey::new("f", "ab12")])
            .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let journal = std::fs::symlink_metadata(state.join(JOURNAL)).unwrap();
        assert!(journal.is_file() && journal.len() == 0, "{journal:?}");
    }

    #[test]
    fn a_sighting_after_a_full_disk_is_not_glued_to_a_torn_line() {
        let name = "state::seen::tests::a_sighting_after_a_full_disk_is_not_glued_to_a_torn_line";
        super::super::full_disk::in_own_process(name, |dir| {
            let store = SeenStore::open(dir, true).unwrap();
            store.touch("f", &record("ab12", Status::Accepted, "x"));
            store.flush(Vec::new).unwrap();
            let len = std::fs::metadata(dir.join(JOURNAL)).unwrap().len();
            // Room for a part of the next line only.
            super::super::full_disk::limit(len + 5);
            let rec = record("cd34", Status::Accepted, "x");
            store.touch("f", &rec);
            let secs = rec.seen.secs();
            assert!(store.flush(Vec::new).is_err());
            super::super::full_disk::limit(libc::RLIM_INFINITY);
            store.flush(Vec::new).unwrap();
            let again = SeenStore::open(dir, true).unwrap();
            assert!(seen(&again, "f", "ab12").is_some());
            assert_eq!(
                seen(&again, "f", "cd34"),
                Some(secs),
                "after the disk was freed"
            );
        });
    }
}
