//! A file being written keeps its last good content: a writer that
//! truncates a session file in place and pauses before writing it back
//! drops no live session, under `auto_push` or across a push, and what it
//! writes is taken once it closes the file (or once `write_grace_ms` has
//! passed).

use crate::common::*;
use mobile_session::Client;
use mobile_session_proto::VerifyStatus;
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default `write_grace_ms`.
const GRACE: Duration = Duration::from_millis(2000);
/// How long the writer pauses with the file empty, as the 4D server.
const PAUSE: Duration = Duration::from_secs(1);

/// Truncates the file in place and keeps it open, as a writer that has
/// not written its new content yet.
fn truncate(path: &std::path::Path) -> File {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap()
}

/// The ANDROID session's document with `email` and `status`.
fn android(email: &str, status: &str) -> String {
    let mut doc = session_json(ANDROID, None, ANDROID_ID, status);
    doc["email"] = email.into();
    serde_json::to_string_pretty(&doc).unwrap()
}

fn row(d: &Daemon, id: &str) -> Value {
    d.json(&["sessions"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

fn writing(d: &Daemon) -> u64 {
    d.json(&["status"])["writing"].as_u64().unwrap()
}

fn verify(d: &Daemon, token: &str) -> i32 {
    d.cli(&["verify", token]).status.code().unwrap()
}

/// `verify` every 20 ms on one connection, until stopped: when each answer came.
struct VerifyLoop {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, VerifyStatus)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VerifyLoop {
    fn start(d: &Daemon, token: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<(Instant, VerifyStatus)>>> = Arc::default();
        let socket = d.socket.clone();
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let client = Client::connect(&socket).await.unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        let reply = client.verify(token).await.unwrap();
                        seen.lock().unwrap().push((Instant::now(), reply.status));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            })
        };
        Self {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Vec<(Instant, VerifyStatus)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// One attempt of three rounds of truncate, pause, write back. `None` when
/// the test's own stall decided it (a pause that ran up to the grace, or a
/// pause no verify fell in); else the `unknown` answers seen.
fn three_paused_rewrites(d: &Daemon, attempt: usize) -> Option<usize> {
    let path = d.file(ANDROID, ANDROID_ID);
    let verifies = VerifyLoop::start(d, ANDROID_TOKEN);
    let mut pauses = Vec::new();
    for round in 0..3 {
        let email = format!("round{attempt}-{round}@example.com");
        let start = Instant::now();
        let mut f = truncate(&path);
        std::thread::sleep(PAUSE);
        f.write_all(android(&email, "accepted").as_bytes()).unwrap();
        drop(f);
        pauses.push((start, Instant::now()));
        // The content that arrived is applied, and pushed (auto_push).
        wait_until("the written-back content is live", || {
            let r = row(d, ANDROID_ID);
            r["email"] == email.as_str() && r["unpushed"].is_null() && r.get("writing").is_none()
        });
    }
    let seen = verifies.stop();
    let stalled = pauses.iter().any(|(a, b)| {
        *b - *a >= GRACE - Duration::from_millis(100) || !seen.iter().any(|(t, _)| t > a && t < b)
    });
    let unknown = seen
        .iter()
        .filter(|(_, s)| *s == VerifyStatus::Unknown)
        .count();
    eprintln!(
        "attempt {attempt}: {} verifies, {unknown} unknown, pauses {:?}",
        seen.len(),
        pauses.iter().map(|(a, b)| *b - *a).collect::<Vec<_>>()
    );
    (!stalled).then_some(unknown)
}

#[test]
fn a_writers_pause_never_makes_a_live_session_unknown_under_auto_push() {
    let d = Daemon::start_with(Opts {
        args: vec!["--auto-push".into()],
        ..Default::default()
    });

    for attempt in 0..5 {
        if let Some(unknown) = three_paused_rewrites(&d, attempt) {
            assert_eq!(unknown, 0, "verify said unknown during a writer's pause");
            assert_eq!(verify(&d, ANDROID_TOKEN), 0);
            return;
        }
    }
    panic!("every attempt was stalled past the grace by the machine");
}

/// A grace no test machine's stall reaches: these tests are about what
/// happens within it.
const LONG_GRACE: &str = "write_grace_ms = 600000\n";

/// A push (plain, full, after a refresh) inside the pause keeps the
/// session live and reports the file as being written; once the writer
/// closes it, its content is read and the next push applies it.
fn push_inside_the_pause(d: &Daemon) {
    let path = d.file(ANDROID, ANDROID_ID);
    let mut f = truncate(&path);
    wait_until("the daemon sees the file being written", || writing(d) == 1);
    let r = row(d, ANDROID_ID);
    assert_eq!(r["writing"], true, "{r}");
    assert_eq!(r["status"], "accepted", "its last good content: {r}");
    assert!(r["unpushed"].is_null(), "{r}");
    assert_eq!(d.json(&["sessions", "--invalid"]), serde_json::json!([]));
    for cmd in [&["push"][..], &["push", "--full"], &["refresh"]] {
        if cmd == ["refresh"] {
            d.ok(cmd);
            continue;
        }
        let p = d.json(cmd);
        assert_eq!(p["removed"], 0, "{cmd:?}: {p}");
        assert_eq!(p["invalid"], serde_json::json!([]), "{cmd:?}: {p}");
        let w = &p["writing"][0];
        assert_eq!(w["path"], path.display().to_string(), "{cmd:?}: {p}");
        assert_eq!(w["code"], 2, "{cmd:?}: {p}");
        assert_eq!(verify(d, ANDROID_TOKEN), 0, "live after {cmd:?}");
    }
    let human = d.ok(&["push"]);
    assert!(human.contains("1 being written"), "{human}");
    assert!(human.contains(&path.display().to_string()), "{human}");
    let status = d.ok(&["status"]);
    assert!(status.contains("1 being written"), "{status}");
    // The content arrives (a status change, so the push's effect shows).
    f.write_all(android("back@example.com", "pending").as_bytes())
        .unwrap();
    drop(f);
    wait_until("the written content is read", || {
        let r = row(d, ANDROID_ID);
        r["status"] == "pending" && r["unpushed"] == "changed" && r.get("writing").is_none()
    });
    assert_eq!(verify(d, ANDROID_TOKEN), 0, "live as before until a push");
    let p = d.json(&["push"]);
    assert_eq!(
        (&p["updated"], &p["removed"]),
        (&1.into(), &0.into()),
        "{p}"
    );
    assert!(p.get("writing").is_none(), "{p}");
    assert_eq!(verify(d, ANDROID_TOKEN), 3, "live with what was written");
    assert_eq!(writing(d), 0);
}

#[test]
fn a_push_inside_a_writers_pause_keeps_the_session_live() {
    push_inside_the_pause(&Daemon::start_with(Opts {
        config: Some(LONG_GRACE.into()),
        ..Default::default()
    }));
}

#[test]
fn a_push_inside_a_writers_pause_keeps_the_session_live_when_polling() {
    push_inside_the_pause(&Daemon::start_with(Opts {
        config: Some(format!(
            "watcher = \"poll\"\npoll_interval_ms = 50\n{LONG_GRACE}"
        )),
        ..Default::default()
    }));
}

#[test]
fn a_daemon_that_may_not_lease_the_file_goes_by_the_watchers_events() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run the daemon as nobody");
        return;
    }
    let opts = Opts {
        as_nobody: true,
        config: Some(LONG_GRACE.into()),
        ..Default::default()
    };
    let mut d = Daemon::prepare(&opts);
    // Root's file, which the daemon may read and write but not lease: only
    // the writer's IN_MODIFY, and no IN_CLOSE_WRITE yet, say it is open.
    let path = d.file(ANDROID, ANDROID_ID);
    std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    d.spawn(&opts);
    push_inside_the_pause(&d);
}

#[test]
fn past_the_grace_an_unfinished_file_is_taken_as_it_is() {
    let d = Daemon::start_with(Opts {
        config: Some("write_grace_ms = 200\n".into()),
        ..Default::default()
    });
    let f = truncate(&d.file(ANDROID, ANDROID_ID));
    // Still open, but past the grace: empty, so invalid (4D's code 2).
    wait_until("the empty file is taken", || {
        d.json(&["status"])["invalid"] == 1
    });
    assert_eq!(writing(&d), 0);
    let p = d.json(&["push"]);
    assert_eq!(p["removed"], 1, "{p}");
    assert_eq!(p["invalid"][0]["code"], 2, "{p}");
    assert_eq!(verify(&d, ANDROID_TOKEN), 4);
    drop(f);
}

#[test]
fn a_file_emptied_and_closed_is_taken_at_once() {
    let d = Daemon::start();
    drop(truncate(&d.file(ANDROID, ANDROID_ID)));
    wait_until("the empty file is taken", || {
        d.json(&["status"])["invalid"] == 1
    });
    assert_eq!(writing(&d), 0);
    assert_eq!(d.json(&["push"])["removed"], 1);
}

#[test]
fn a_new_file_appears_once_its_writer_has_written_it() {
    let d = Daemon::start();
    let id = "f11e000000000000000000000000000000000001";
    let path = d.file(ANDROID, id);
    let mut f = File::create(&path).unwrap();
    wait_until("the daemon sees the new file being written", || {
        writing(&d) == 1
    });
    assert!(row(&d, id).is_null(), "no row before it is whole");
    assert_eq!(d.json(&["status"])["invalid"], 0);
    let doc = session_json(ANDROID, None, id, "accepted").to_string();
    f.write_all(doc.as_bytes()).unwrap();
    drop(f);
    wait_until("the written file is read", || {
        row(&d, id)["unpushed"] == "new"
    });
    assert_eq!(writing(&d), 0);
    assert_eq!(d.json(&["push"])["added"], 1);
}

#[test]
fn a_new_file_being_written_does_not_keep_a_deleted_one_live_through_a_full_push() {
    // No watcher report in time: only the full push's rescan sees the change.
    let opts = Opts {
        config: Some("watcher = \"poll\"\npoll_interval_ms = 3600000\n".into()),
        ..Default::default()
    };
    let d = Daemon::start_with(opts);
    let f = File::create(d.file(ANDROID, "f11e000000000000000000000000000000000002")).unwrap();
    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    let p = d.json(&["push", "--full"]);
    assert_eq!(p["removed"], 1, "{p}");
    assert_eq!(verify(&d, ANDROID_TOKEN), 4);
    assert!(row(&d, ANDROID_ID).is_null());
    drop(f);
}
