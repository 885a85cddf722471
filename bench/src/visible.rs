//! How soon a file change shows in the disk view, as a `watch` event, p99
//! against 20 ms beyond what the daemon's rules make it wait:
//!
//! - a writer that writes and closes (`IN_CLOSE_WRITE` ends the settle at
//!   once): no wait;
//! - a writer that keeps the file open after writing: the settle
//!   (`settle_ms`, 50 ms);
//! - a writer that truncates the file and keeps it open: the unfinished
//!   file is held (`write_grace_ms`, 2000 ms, from the first reading after
//!   the settle), then taken — never before the grace.
//!
//! Each change flips an existing session's status, so the daemon reads a
//! whole, valid file (the first two) and says `status`; the third says
//! `invalid`. `BENCH_ONLY_VISIBLE=1` runs this alone, on 1 000 sessions
//! unless a count is given.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{connections, data, ms, report, Daemon};

/// The daemon's defaults, which the bench runs with.
const SETTLE: Duration = Duration::from_millis(50);
const GRACE: Duration = Duration::from_millis(2000);
/// What a change may take beyond the wait the rule asks for.
const TARGET: Duration = Duration::from_millis(20);

/// Runs alone: its own data set and daemon.
pub fn alone(bin: &Path, dir: &Path, sessions: usize) {
    let data = dir.join("Data");
    data::prepare(&data, sessions);
    let sock = dir.join("visible.sock");
    let mut daemon = Daemon::start(bin, &data, &sock);
    println!("# change visible ({sessions} sessions)");
    bench(bin, &sock, &data);
    daemon.stop();
}

pub fn bench(bin: &Path, sock: &Path, data: &Path) {
    let watch = Watch::start(bin, sock);
    let files = session_files(data, 300);
    let (closed, open) = files.split_at(200);
    let (open, held) = open.split_at(50);
    figure(
        "file change visible p99, writer writes and closes",
        &delays(&watch, closed, Writer::Closes),
        Duration::ZERO,
    );
    figure(
        "file change visible p99 beyond settle_ms, writer keeps the file open",
        &delays(&watch, open, Writer::KeepsOpen),
        SETTLE,
    );
    figure(
        "unfinished file taken p99 beyond write_grace_ms + settle_ms, writer truncates and keeps it open",
        &held_for_the_grace(&watch, held),
        GRACE + SETTLE,
    );
}

/// Reports what `delays` (sorted) took beyond `wait`, what the rules ask
/// for, against [`TARGET`]. A change taken before a grace ended misses.
fn figure(what: &str, delays: &[Duration], wait: Duration) {
    let beyond = |d: Duration| ms(d) - ms(wait);
    let early = delays[0] < wait.saturating_sub(SETTLE);
    let ratio = if early {
        f64::INFINITY
    } else {
        beyond(p99(delays)) / ms(TARGET)
    };
    report(&format!("{what} / 20 ms"), ratio, 1.0);
    println!(
        "  {} changes: first {:.1} ms, p50 {:.1} ms, p99 {:.1} ms after the write",
        delays.len(),
        ms(delays[0]),
        ms(delays[delays.len() / 2]),
        ms(p99(delays))
    );
}

#[derive(Clone, Copy)]
enum Writer {
    Closes,
    KeepsOpen,
}

/// Flips each file's status as `writer` does, one at a time, and times
/// each until its `status` event arrives.
fn delays(watch: &Watch, files: &[PathBuf], writer: Writer) -> Vec<Duration> {
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let text = flipped(&std::fs::read_to_string(path).unwrap());
        let t = Instant::now();
        let kept = match writer {
            Writer::Closes => {
                std::fs::write(path, &text).unwrap();
                None
            }
            Writer::KeepsOpen => {
                let mut f = std::fs::File::create(path).unwrap();
                f.write_all(text.as_bytes()).unwrap();
                Some(f)
            }
        };
        out.push(watch.until(&[id_of(path)], "status")[0] - t);
        drop(kept);
    }
    out.sort();
    out
}

/// Truncates every file at once and keeps them open; times each until its
/// `invalid` event (the grace passed), then writes them back.
fn held_for_the_grace(watch: &Watch, files: &[PathBuf]) -> Vec<Duration> {
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let open: Vec<(Instant, std::fs::File)> = files
        .iter()
        .map(|p| (Instant::now(), std::fs::File::create(p).unwrap()))
        .collect();
    let ids: Vec<&str> = files.iter().map(|p| id_of(p)).collect();
    let seen = watch.until(&ids, "invalid");
    let mut out: Vec<Duration> = seen.iter().zip(&open).map(|(e, (t, _))| *e - *t).collect();
    for ((_, mut f), text) in open.into_iter().zip(texts) {
        f.write_all(text.as_bytes()).unwrap();
    }
    out.sort();
    out
}

/// `n` session files, taken from every app folder in turn.
fn session_files(data: &Path, n: usize) -> Vec<PathBuf> {
    let list = |dir: &Path| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let folders: Vec<Vec<PathBuf>> = list(&data.join("MobileApps"))
        .iter()
        .filter(|f| f.is_dir())
        .map(|f| {
            list(f)
                .into_iter()
                .filter(|p| id_of(p).len() == 40)
                .collect()
        })
        .collect();
    let deepest = folders.iter().map(Vec::len).max().unwrap_or(0);
    let files: Vec<PathBuf> = (0..deepest)
        .flat_map(|i| folders.iter().filter_map(move |f| f.get(i).cloned()))
        .take(n)
        .collect();
    assert_eq!(files.len(), n, "the bench needs {n} sessions");
    files
}

fn id_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn flipped(text: &str) -> String {
    const A: &str = "\"status\": \"accepted\"";
    const P: &str = "\"status\": \"pending\"";
    if text.contains(A) {
        text.replace(A, P)
    } else {
        text.replace(P, A)
    }
}

fn p99(d: &[Duration]) -> Duration {
    d[(d.len() * 99).div_ceil(100) - 1]
}

/// A `mobile-session --json watch` whose lines arrive, timed, on a channel.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<(Instant, serde_json::Value)>,
}

impl Watch {
    fn start(bin: &Path, sock: &Path) -> Self {
        let base = connections(sock);
        let mut child = Command::new(bin.join("mobile-session"))
            .arg("--socket")
            .arg(sock)
            .args(["--json", "watch"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line).unwrap_or_default();
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while connections(sock) <= base {
            assert!(Instant::now() < deadline, "watch did not connect");
            std::thread::sleep(Duration::from_millis(5));
        }
        Self { child, lines }
    }

    /// When the event `kind` of each session of `ids` arrived, in that order.
    fn until(&self, ids: &[&str], kind: &str) -> Vec<Instant> {
        let mut at: Vec<Option<Instant>> = vec![None; ids.len()];
        while at.iter().any(Option::is_none) {
            let (t, v) = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("no watch event within a minute");
            if v["event"] != kind {
                continue;
            }
            if let Some(i) = ids.iter().position(|id| v["id"] == *id) {
                at[i].get_or_insert(t);
            }
        }
        at.into_iter().flatten().collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
