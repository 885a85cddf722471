//! The history: one record per change made through the daemon, as a JSON
//! line appended to `history.jsonl` (and written to the log):
//! `{"time","uid","pid","process","action","app","id","before","after"}`.
//! Past `history_max_bytes` the file is rotated (`history.jsonl.1` …
//! `.4`, the oldest dropped). Each record is one `write` to a file opened
//! for appending; it is not synced one by one (a sign-in would pay a disk
//! flush for it): a crash of the daemon loses nothing, one of the machine
//! what the system had not written yet.
//!
//! A failure to write the history is logged and never fails the change:
//! the change is done by then.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use mobile_session_proto::{AuditRecord, HistoryCursor};
use serde_json::{json, Value};

use super::{open_append, parse_rfc3339, rfc3339_ms, StateError};
use crate::locks::lock;

pub const FILE: &str = "history.jsonl";
/// Rotated files kept besides the current one.
pub const KEEP: usize = 4;
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;
/// Records per page of `history`.
pub const PAGE: usize = 1000;

/// Who asked for a change: the peer's credentials at the handshake.
#[derive(Debug, Default)]
pub struct Caller {
    pub uid: Option<u32>,
    pub pid: Option<u32>,
    /// Read once, when the first record names it (the caller waits for
    /// its answer then, so it is still there).
    process: OnceLock<Option<String>>,
}

impl Caller {
    pub fn new(uid: Option<u32>, pid: Option<u32>) -> Self {
        Self {
            uid,
            pid,
            process: OnceLock::new(),
        }
    }

    /// The caller's command name (`/proc/<pid>/comm`), where readable.
    pub fn process(&self) -> Option<String> {
        self.process
            .get_or_init(|| {
                let pid = self.pid.filter(|&p| p > 0)?;
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                Some(comm.trim_end().escape_debug().to_string()).filter(|c| !c.is_empty())
            })
            .clone()
    }
}

pub struct Audit {
    dir: PathBuf,
    max_bytes: u64,
    /// Taken for one append (or rotation); never while holding another lock.
    file: Mutex<Option<(File, u64)>>,
}

impl Audit {
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, StateError> {
        let file = open_current(dir).map_err(StateError::io(&dir.join(FILE)))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            file: Mutex::new(Some(file)),
        })
    }

    /// Writes one record to the history and to the log.
    pub fn append(&self, rec: &AuditRecord) {
        let mut line = line_of(rec);
        tracing::info!(target: "mobile_sessiond::audit", "{line}");
        line.push('\n');
        if let Err(e) = self.write(line.as_bytes()) {
            tracing::error!("cannot write the history in {}: {e}", self.dir.display());
        }
    }

    fn write(&self, line: &[u8]) -> std::io::Result<()> {
        let mut slot = lock(&self.file);
        let len = slot.as_ref().map_or(0, |(_, n)| *n);
        if slot.is_none() || (len > 0 && len + line.len() as u64 > self.max_bytes) {
            if slot.take().is_some() {
                self.rotate()?;
            }
            *slot = Some(open_current(&self.dir)?);
        }
        let Some((file, n)) = slot.as_mut() else {
            return Ok(());
        };
        if let Err(e) = file.write_all(line) {
            // Part of the line may be in (a full disk): the next record
            // reopens the file and starts a line of its own.
            *slot = None;
            return Err(e);
        }
        *n += line.len() as u64;
        Ok(())
    }

    fn rotate(&self) -> std::io::Result<()> {
        for i in (1..KEEP).rev() {
            let from = self.dir.join(format!("{FILE}.{i}"));
            if from.exists() {
                std::fs::rename(&from, self.dir.join(format!("{FILE}.{}", i + 1)))?;
            }
        }
        std::fs::rename(self.dir.join(FILE), self.dir.join(format!("{FILE}.1")))
    }

    /// The history files, oldest first, opened with their inodes. Opened
    /// under the lock rotations take: a rotation cannot move a file
    /// between its listing and its opening (which would skip a file, read
    /// one twice, or find one gone); the open files read on whatever
    /// renames come later.
    fn files(&self) -> Vec<(File, u64, std::fs::Metadata)> {
        let _no_rotation = lock(&self.file);
        (0..=KEEP)
            .rev()
            .map(|i| match i {
                0 => self.dir.join(FILE),
                i => self.dir.join(format!("{FILE}.{i}")),
            })
            .filter_map(|p| {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(p)
                    .ok()?;
                let m = f.metadata().ok().filter(|m| m.is_file())?;
                let ino = m.ino();
                Some((f, ino, m))
            })
            .collect()
    }

    /// Up to [`PAGE`] records after `cursor` (from the oldest kept) that
    /// are no older than `since_ms` and that `keep` takes; and where the
    /// next page starts.
    pub fn page(
        &self,
        cursor: Option<HistoryCursor>,
        since_ms: u64,
        keep: &dyn Fn(&AuditRecord) -> bool,
    ) -> std::io::Result<(Vec<AuditRecord>, Option<HistoryCursor>)> {
        let files = self.files();
        // A cursor whose file was rotated out: go on from the oldest kept.
        let start = cursor
            .and_then(|c| files.iter().position(|f| f.1 == c.file))
            .unwrap_or(0);
        let mut out = Vec::new();
        for (i, (file, ino, meta)) in files.into_iter().enumerate().skip(start) {
            let mut offset = match cursor {
                Some(c) if i == start && c.file == ino => c.offset,
                _ => 0,
            };
            // Written to last before `since`: nothing in it is as recent.
            let written_ms = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(u64::MAX, |d| d.as_millis() as u64);
            if written_ms < since_ms {
                continue;
            }
            let mut reader = BufReader::new(file);
            reader.seek(SeekFrom::Start(offset))?;
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break; // the end, or a line being written
                }
                offset += n as u64;
                match parse_line(&line) {
                    Some(rec) if rec.time_ms >= since_ms && keep(&rec) => out.push(rec),
                    _ => {}
                }
                if out.len() >= PAGE {
                    let next = HistoryCursor { file: ino, offset };
                    return Ok((out, Some(next)));
                }
            }
        }
        Ok((out, None))
    }
}

/// Opens the current history file for appending, with its length; a line
/// left torn (a crash, a full disk) is ended first, so that the next record
/// stands on a line of its own.
fn open_current(dir: &Path) -> std::io::Result<(File, u64)> {
    use std::os::unix::fs::FileExt;
    let mut file = open_append(dir, FILE)?;
    let mut len = file.metadata()?.len();
    let mut last = [0u8];
    if len > 0 && file.read_at(&mut last, len - 1)? == 1 && last[0] != b'\n' {
        file.write_all(b"\n")?;
        len += 1;
    }
    Ok((file, len))
}

fn line_of(rec: &AuditRecord) -> String {
    let raw = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "time": rfc3339_ms(rec.time_ms),
        "uid": rec.uid,
        "pid": rec.pid,
        "process": rec.process,
        "action": rec.action,
        "app": rec.app,
        "id": rec.id,
        "before": raw(&rec.before),
        "after": raw(&rec.after),
    })
    .to_string()
}

fn parse_line(line: &[u8]) -> Option<AuditRecord> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let number = |k: &str| v.get(k).and_then(Value::as_u64).map(|n| n as u32);
    Some(AuditRecord {
        time_ms: parse_rfc3339(&text("time")?)?,
        uid: number("uid"),
        pid: number("pid"),
        process: text("process"),
        action: text("action")?,
        app: text("app"),
        id: text("id"),
        before: v.get("before").unwrap_or(&Value::Null).to_string(),
        after: v.get("after").unwrap_or(&Value::Null).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::full_disk;
    use super::*;

    fn rec(n: u64) -> AuditRecord {
        AuditRecord {
            time_ms: 1_700_000_000_000 + n,
            uid: Some(1000),
            pid: Some(42),
            process: Some("mobile-session".into()),
            action: "status".into(),
            app: Some("T.com.a".into()),
            id: Some(format!("{n:04x}")),
            before: "\"pending\"".into(),
            after: "\"accepted\"".into(),
        }
    }

    fn all(audit: &Audit, since: u64) -> Vec<AuditRecord> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = audit.page(cursor, since, &|_| true).unwrap();
            out.extend(page);
            match next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn records_read_back_in_order_across_rotations_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        // About 200 bytes a line: a rotation every 20 records or so.
        let audit = Audit::open(dir.path(), 4096).unwrap();
        for n in 0..2500 {
            audit.append(&rec(n));
        }
        assert!(dir.path().join(format!("{FILE}.{KEEP}")).exists());
        assert!(!dir.path().join(format!("{FILE}.{}", KEEP + 1)).exists());
        let read = all(&audit, 0);
        assert!(!read.is_empty() && read.len() < 2500, "{}", read.len());
        assert_eq!(read.last(), Some(&rec(2499)));
        assert!(read.windows(2).all(|w| w[0].time_ms < w[1].time_ms));
        let big = Audit::open(dir.path(), 1 << 30).unwrap();
        for n in 2500..4600 {
            big.append(&rec(n));
        }
        let read = all(&big, 1_700_000_000_000 + 2600);
        assert_eq!(read.len(), 2000, "pages of {PAGE} join up");
        assert_eq!(read[0], rec(2600));
    }

    #[test]
    fn a_torn_line_is_not_read_and_the_next_record_stands_apart() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::open(dir.path(), 1 << 20).unwrap();
        audit.append(&rec(1));
        let mut f = open_append(dir.path(), FILE).unwrap();
        f.write_all(b"{\"time\":\"2024").unwrap();
        assert_eq!(all(&audit, 0), [rec(1)]);
        let reopened = Audit::open(dir.path(), 1 << 20).unwrap();
        reopened.append(&rec(2));
        assert_eq!(all(&reopened, 0), [rec(1), rec(2)]);
    }

    #[test]
    fn a_reader_racing_rotations_sees_each_record_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let audit = std::sync::Arc::new(Audit::open(dir.path(), 2048).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (audit, stop) = (audit.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    audit.append(&rec(n));
                    n += 1;
                }
            })
        };
        // Each reading whole, every record once, none skipped: the times
        // follow one another by one millisecond.
        let mut bad = None;
        for _ in 0..500 {
            let (read, next) = match audit.page(None, 0, &|_| true) {
                Ok(page) => page,
                Err(e) => {
                    bad = Some(format!("history unreadable: {e}"));
                    break;
                }
            };
            assert!(next.is_none(), "less than a page");
            if let Some(w) = read.windows(2).find(|w| w[1].time_ms != w[0].time_ms + 1) {
                bad = Some(format!("{} then {}", w[0].time_ms, w[1].time_ms));
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(bad, None, "records repeated, skipped or out of order");
    }

    #[test]
    fn a_record_after_a_full_disk_stands_on_a_line_of_its_own() {
        let name = "state::audit::tests::a_record_after_a_full_disk_stands_on_a_line_of_its_own";
        full_disk::in_own_process(name, |dir| {
            let audit = Audit::open(dir, 1 << 20).unwrap();
            audit.append(&rec(1));
            let len = std::fs::metadata(dir.join(FILE)).unwrap().len();
            full_disk::limit(len + 50);
            audit.append(&rec(2)); // 50 bytes of it written
            audit.append(&rec(3)); // none
            full_disk::limit(libc::RLIM_INFINITY);
            audit.append(&rec(4));
            assert_eq!(all(&audit, 0), [rec(1), rec(4)]);
            let reopened = Audit::open(dir, 1 << 20).unwrap();
            reopened.append(&rec(5));
            assert_eq!(all(&reopened, 0), [rec(1), rec(4), rec(5)]);
        });
    }
}
