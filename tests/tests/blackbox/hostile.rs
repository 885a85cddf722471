//! Hostile conditions: a concurrent writer, descriptor exhaustion, idle and
//! non-reading clients, an unreadable folder, kills during a write storm.
//! Every test ends with the sessions whole and the daemon serving.

use crate::common::*;
use mobile_session::Client;
use mobile_session_proto::connection::{decode, encode};
use mobile_session_proto::{ErrorCode, HelloOutcome, Request, Response, Status};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// A small deterministic generator for jitter (no extra dependency).
struct Jitter(u64);

impl Jitter {
    fn micros(&mut self, max: u64) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_micros((self.0 >> 33) % max)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Writer {
    /// Rewrites the e-mail's bytes in place (same length, no truncation).
    InPlace,
    /// Writes a whole new version to a temporary file and renames it over.
    Rename,
}

fn field(path: &std::path::Path, key: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v[key].as_str().unwrap_or_default().to_string()
}

/// The external writer's change (`email`) and ours (`status`) race on one
/// file, round after round: the writer's change is never lost, and ours is
/// applied (re-running it if the writer's own read-modify-write replaced it).
fn race(writer: Writer, rounds: usize) {
    let d = Daemon::start();
    let path = d.file(ANDROID, ANDROID_ID);
    let rt = runtime();
    let client = rt.block_on(Client::connect(&d.socket)).unwrap();
    let mut jitter = Jitter(7 + rounds as u64);
    let mut lost = Vec::new();
    let mut conflicts = 0;
    for round in 0..rounds {
        let email = format!("w{round:05}@example.com");
        let target = if round % 2 == 0 {
            Status::Pending
        } else {
            Status::Accepted
        };
        let barrier = Arc::new(Barrier::new(2));
        let pause = jitter.micros(1500);
        let w = {
            let (barrier, path, email) = (barrier.clone(), path.clone(), email.clone());
            std::thread::spawn(move || {
                barrier.wait();
                std::thread::sleep(pause);
                match writer {
                    Writer::InPlace => {
                        let text = std::fs::read_to_string(&path).unwrap();
                        let at = text.find("\"email\": \"").unwrap() + 10;
                        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                        f.write_all_at(email.as_bytes(), at as u64).unwrap();
                    }
                    Writer::Rename => {
                        let text = std::fs::read_to_string(&path).unwrap();
                        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
                        doc["email"] = email.clone().into();
                        let tmp = path.with_file_name(".writer.swp");
                        let mut f = std::fs::File::create(&tmp).unwrap();
                        f.write_all(serde_json::to_string_pretty(&doc).unwrap().as_bytes())
                            .unwrap();
                        std::fs::rename(&tmp, &path).unwrap();
                    }
                }
            })
        };
        barrier.wait();
        let ours = rt.block_on(client.set_status(target, &[ANDROID_ID.to_string()], false));
        w.join().unwrap();
        match ours {
            Ok(_) => {}
            Err(e) if e.code() == Some(ErrorCode::Conflict) => conflicts += 1,
            Err(e) => panic!("round {round}: set-status failed: {e}"),
        }
        if field(&path, "email") != email {
            lost.push(round);
        }
        // Ours again where the writer's version replaced it (or we gave up).
        if field(&path, "status") != target.as_str() {
            rt.block_on(client.set_status(target, &[ANDROID_ID.to_string()], false))
                .unwrap();
        }
        assert_eq!(field(&path, "status"), target.as_str(), "round {round}");
    }
    assert!(
        lost.is_empty(),
        "{writer:?}: the writer's change was lost in rounds {lost:?} of {rounds} ({conflicts} conflicts)"
    );
    let retried = d.log_text().matches("applying the change again").count();
    eprintln!("{writer:?}: {retried} retries, {conflicts} conflicts in {rounds} rounds");
    // The file is whole and valid throughout.
    assert_eq!(
        d.json(&["push", "--full"])["invalid"],
        serde_json::json!([])
    );
}

#[test]
fn an_external_writer_in_place_loses_nothing_to_set_status() {
    race(Writer::InPlace, 500);
}

#[test]
fn an_external_writer_by_rename_loses_nothing_to_set_status() {
    race(Writer::Rename, 500);
}

/// Waits until the daemon has closed `s` (a read gives the end of stream);
/// otherwise says what the read gave instead.
fn closed_by_daemon(s: &mut std::os::unix::net::UnixStream) -> Result<(), String> {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match read_past_signals(|| s.read(&mut buf)) {
            Ok(0) => return Ok(()),
            Ok(n) => eprintln!("{n} unexpected bytes before the close"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("{e} after {:?}", start.elapsed())),
        }
    }
}

#[test]
fn past_max_connections_a_client_is_told_busy_then_served_again() {
    let d = Daemon::start_with(Opts {
        config: Some("max_connections = 2\n".into()),
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["max_connections"], 2);
    // The test runs as root, an admin: admins have a few places more.
    let mut held = Vec::new();
    loop {
        let (s, outcome) = raw_hello(&d);
        match outcome {
            HelloOutcome::Welcome { .. } => held.push(s),
            HelloOutcome::Busy { reason } => {
                assert!(
                    reason.contains("busy") && reason.contains("max_connections"),
                    "{reason}"
                );
                break;
            }
            HelloOutcome::Refused { reason } => panic!("refused: {reason}"),
        }
        assert!(held.len() <= 64, "never busy");
    }
    assert!(held.len() >= 2, "{}", held.len());
    let out = d.cli(&["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("busy"), "{}", stderr(&out));
    // One leaves: the next is served.
    held.pop();
    wait_until("a place is free again", || {
        d.cli(&["status"]).status.success()
    });
    assert!(d.log_text().contains("told the daemon is busy"));
}

#[test]
fn the_busy_warning_is_logged_once_per_burst() {
    let d = Daemon::start_with(Opts {
        config: Some("max_connections = 2\n".into()),
        ..Default::default()
    });
    let warnings = |d: &Daemon| d.log_text().matches("told the daemon is busy").count();
    // Holds connections until the daemon says busy (this test is an admin:
    // admins have a few places more), then asks `more` times again.
    let burst = |more: usize| {
        let mut held = Vec::new();
        loop {
            let (s, outcome) = raw_hello(&d);
            match outcome {
                HelloOutcome::Welcome { .. } => held.push(s),
                HelloOutcome::Busy { .. } => break,
                HelloOutcome::Refused { reason } => panic!("refused: {reason}"),
            }
            assert!(held.len() <= 64, "never busy");
        }
        for _ in 0..more {
            let (_, outcome) = raw_hello(&d);
            assert!(matches!(outcome, HelloOutcome::Busy { .. }), "{outcome:?}");
        }
        drop(held);
        // `status` is served under the cap again: the burst is over. (Until
        // the daemon has seen the held clients leave, it may be told busy.)
        wait_until("the held clients are gone", || {
            let out = d.cli(&["--json", "status"]);
            out.status.success()
                && serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["connections"]
                    == 1
        });
    };
    burst(4);
    assert_eq!(
        warnings(&d),
        1,
        "five refusals in one burst:\n{}",
        d.log_text()
    );
    assert!(d
        .log_text()
        .contains("5 clients were told the daemon was busy"));
    burst(0);
    assert_eq!(
        warnings(&d),
        2,
        "a later burst is reported too:\n{}",
        d.log_text()
    );
}

#[test]
fn an_idle_client_is_closed_and_a_watch_is_not() {
    let d = Daemon::start_with(Opts {
        // Long enough that a command-line client this test runs is not
        // closed between its hello and its request on a loaded machine.
        config: Some("idle_timeout_ms = 3000\n".into()),
        ..Default::default()
    });
    let rt = runtime();
    let watch = rt.block_on(async {
        let c = Client::connect(&d.socket).await.unwrap();
        c.watch(None).await.unwrap()
    });
    wait_until("the watch is subscribed", || {
        d.json(&["status"])["watchers"] == 1
    });
    let (mut idle, outcome) = raw_hello(&d);
    assert!(matches!(outcome, HelloOutcome::Welcome { .. }));
    if let Err(e) = closed_by_daemon(&mut idle) {
        panic!("the idle client was not closed: {e}\n{}", d.log_text());
    }
    // Time has passed the idle timeout: the watch still streams.
    d.ok(&["push"]);
    let mut watch = watch;
    let ev = rt
        .block_on(async { tokio::time::timeout(DEADLINE, watch.next_event()).await })
        .expect("an event before the deadline")
        .unwrap()
        .expect("the stream is open");
    assert_eq!(ev.kind, mobile_session_proto::EventKind::Pushed);
    // The watch is still counted: it was never closed.
    assert_eq!(d.json(&["status"])["watchers"], 1);
}

#[test]
fn a_client_that_keeps_asking_is_not_closed_as_idle() {
    let idle = Duration::from_millis(300);
    let d = Daemon::start_with(Opts {
        config: Some(format!("idle_timeout_ms = {}\n", idle.as_millis())),
        ..Default::default()
    });
    let verify = encode(&Request::Verify {
        token: "not a token".into(),
    })
    .unwrap();
    // One request and its answer; an error if the connection is gone.
    let exchange = |s: &mut std::os::unix::net::UnixStream| -> std::io::Result<Response> {
        write_frame(s, &verify)?;
        Ok(decode(&read_frame(s)?).unwrap())
    };
    // Requests every 50 ms for four idle periods: the idle timer fires
    // early over and over and must be moved on, not close the connection.
    // A run where this machine stalled between two requests for half the
    // timeout or more proves nothing either way, so it is tried again.
    let mut conclusive = false;
    for _ in 0..5 {
        // `last` is taken before each request leaves, so the time since it
        // bounds from above how long the daemon has waited since its last
        // answer (or since the hello).
        let start = std::time::Instant::now();
        let (mut s, _) = raw_hello(&d);
        let mut last = start;
        let mut stalled = false;
        let mut answers = 0;
        while !stalled && start.elapsed() < idle * 4 {
            std::thread::sleep(Duration::from_millis(50));
            stalled = last.elapsed() >= idle / 2;
            last = std::time::Instant::now();
            match exchange(&mut s) {
                Ok(r) => assert!(matches!(r, Response::Verified(_)), "{r:?}"),
                Err(_) if stalled => break,
                Err(e) => panic!("closed after {answers} answers: {e}\n{}", d.log_text()),
            }
            answers += 1;
        }
        if !stalled {
            conclusive = true;
            // And once it stops asking, it is closed.
            if let Err(e) = closed_by_daemon(&mut s) {
                panic!("the client was not closed: {e}\n{}", d.log_text());
            }
            break;
        }
    }
    assert!(conclusive, "this machine stalled in every try");
}

#[test]
fn clients_that_do_not_read_a_long_listing_keep_memory_bounded() {
    let mut d = Daemon::start();
    for i in 0..20_000u64 {
        let id = format!("{:040x}", 0x5e55_0000_0000u64 + i);
        let doc = session_json(ANDROID, None, &id, "accepted");
        std::fs::write(d.file(ANDROID, &id), doc.to_string()).unwrap();
    }
    // Restart so the view holds them all from the start.
    d.stop();
    d.spawn(&Opts::default());
    assert_eq!(d.json(&["status"])["on_disk"], 20_003);
    let before = d.rss_kib();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(started_listing(&d));
    }
    let during = d.rss_kib();
    let grown_mib = during.saturating_sub(before) / 1024;
    eprintln!("50 stalled listings: RSS {before} KiB -> {during} KiB");
    assert!(
        grown_mib < 100,
        "50 stalled listings of 20 000 sessions grew the daemon by {grown_mib} MiB ({before} KiB → {during} KiB)"
    );
    // Others are served meanwhile, and the listing is whole for a reader.
    let rows = d.json(&["sessions", ANDROID]);
    assert_eq!(rows.as_array().unwrap().len(), 20_001);
    drop(stalled);
    wait_until("the stalled clients are gone", || {
        d.json(&["status"])["connections"] == 1
    });
}

#[test]
fn idle_clients_that_sent_one_large_request_keep_memory_bounded() {
    let d = Daemon::start();
    let before = d.rss_kib();
    // Just under the request limit; encoded once, sent by each client.
    let body = encode(&Request::Verify {
        token: "A".repeat(1_000_000),
    })
    .unwrap();
    let mut idle = Vec::new();
    for _ in 0..200 {
        let (mut s, outcome) = raw_hello(&d);
        assert!(
            matches!(outcome, HelloOutcome::Welcome { .. }),
            "{outcome:?}"
        );
        write_frame(&mut s, &body).unwrap();
        // The answer: the daemon has taken the whole frame.
        let answer: Response = decode(&read_frame(&mut s).unwrap()).unwrap();
        assert!(matches!(answer, Response::Verified(_)), "{answer:?}");
        idle.push(s);
    }
    assert_eq!(d.json(&["status"])["connections"], 201);
    let during = d.rss_kib();
    drop(idle);
    wait_until("the idle clients are gone", || {
        d.json(&["status"])["connections"] == 1
    });
    let after = d.rss_kib();
    eprintln!(
        "200 idle clients after a 1 MB request: RSS {before} KiB -> {during} KiB -> {after} KiB"
    );
    // Each held its request's buffer (1 MiB, 200 MiB in all) before the fix.
    for (when, kib) in [("while they idle", during), ("once they left", after)] {
        let grown_mib = kib.saturating_sub(before) / 1024;
        assert!(
            grown_mib < 40,
            "{when}, the daemon has grown by {grown_mib} MiB ({before} KiB → {kib} KiB)"
        );
    }
    d.ok(&["status"]);
}

#[test]
fn a_reader_flood_at_a_low_descriptor_limit_drops_no_session_and_frees_its_descriptors() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run readers as another user");
        return;
    }
    let d = Daemon::start_with(Opts {
        nofile: Some(96),
        config: Some("reader_group = \"nogroup\"\n".into()),
        ..Default::default()
    });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let max = d.json(&["status"])["max_connections"].as_u64().unwrap();
    assert!(
        max < 96,
        "max_connections {max} is not kept under the fd limit"
    );
    let baseline = d.open_fds();
    // Readers (nobody, in reader_group) hold `watch` streams: more than fit.
    let client = for_others(&client_bin());
    let mut readers = Vec::new();
    for _ in 0..max + 10 {
        let child = std::process::Command::new("setpriv")
            .arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={NOBODY}"))
            .args(["--clear-groups", "--"])
            .arg(&client)
            .arg("--socket")
            .arg(&d.socket)
            .args(["--json", "watch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        readers.push(child);
    }
    wait_until("the daemon is full of watchers", || {
        d.json(&["status"])["watchers"].as_u64() >= Some(max)
    });
    // The extra readers are told the daemon is busy (exit 69).
    wait_until("the extra readers are refused", || {
        let busy = readers
            .iter_mut()
            .filter_map(|r| r.try_wait().unwrap())
            .filter(|s| s.code() == Some(69))
            .count();
        busy >= 10
    });
    // An admin still gets in, files are still read, sessions stay live.
    std::fs::write(
        d.file(ANDROID, ANDROID_ID),
        std::fs::read_to_string(d.file(ANDROID, ANDROID_ID))
            .unwrap()
            .replace("li.wei@example.com", "li.wei@example.org"),
    )
    .unwrap();
    wait_until("the edit is read despite the flood", || {
        d.json(&["sessions", ANDROID])[0]["email"] == "li.wei@example.org"
    });
    let p = d.json(&["push"]);
    assert_eq!(
        (p["updated"].as_u64(), p["removed"].as_u64()),
        (Some(1), Some(0))
    );
    for t in [SEED_TOKEN, ANDROID_TOKEN] {
        assert_eq!(d.cli(&["verify", t]).status.code(), Some(0));
    }
    // The readers close: their descriptors are freed with no event at all.
    for r in readers.iter_mut() {
        let _ = r.kill();
        let _ = r.wait();
    }
    wait_until("closed watchers are noticed", || {
        d.json(&["status"])["watchers"] == 0
    });
    wait_until("their descriptors are freed", || {
        d.open_fds() <= baseline + 2
    });
    assert_eq!(d.json(&["status"])["live"], 3);
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(0));
}

fn mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_non_root_daemon_with_an_unreadable_folder_starts_and_keeps_its_sessions() {
    unreadable_folder(false);
}

#[test]
fn a_polling_non_root_daemon_keeps_the_sessions_of_an_unreadable_folder() {
    unreadable_folder(true);
}

fn unreadable_folder(poll: bool) {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run the daemon as nobody");
        return;
    }
    let opts = Opts {
        as_nobody: true,
        config: poll.then(|| "watcher = \"poll\"\npoll_interval_ms = 50\n".to_string()),
        ..Default::default()
    };
    let mut d = Daemon::prepare(&opts);
    let folder = d.apps_dir().join(ANDROID);
    mode(&folder, 0o000);
    d.spawn(&opts);
    // It starts, serves the other app, and says which folder it cannot read.
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(0));
    let s = d.json(&["status"]);
    assert_eq!(s["unreadable_folders"], serde_json::json!([ANDROID]), "{s}");
    let apps = d.json(&["apps"]);
    let row = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["folder"] == ANDROID)
        .unwrap();
    assert_eq!(row["unreadable"], true, "{row}");
    // Readable again: its sessions come in, and a push makes them live.
    mode(&folder, 0o750);
    wait_until("the folder is read once readable", || {
        d.json(&["status"])["on_disk"] == 3
    });
    d.ok(&["push"]);
    assert_eq!(d.cli(&["verify", ANDROID_TOKEN]).status.code(), Some(0));
    // Unreadable while live: the sessions stay live through push and refresh.
    mode(&folder, 0o000);
    wait_until("the folder is seen unreadable", || {
        d.json(&["status"])["unreadable_folders"] == serde_json::json!([ANDROID])
    });
    for cmd in [&["push"][..], &["refresh"], &["push", "--full"]] {
        d.ok(cmd);
        assert_eq!(
            d.cli(&["verify", ANDROID_TOKEN]).status.code(),
            Some(0),
            "after {cmd:?}"
        );
    }
    mode(&folder, 0o750);
    wait_until("the folder is readable again", || {
        d.json(&["status"])["unreadable_folders"] == serde_json::json!([])
    });
    assert!(d.stop().success());
}

#[test]
fn special_files_named_like_sessions_are_invalid_at_start_at_runtime_and_after_refresh() {
    let opts = Opts::default();
    let mut d = Daemon::prepare(&opts);
    let folder = d.apps_dir().join(IOS);
    let outside = d.dir.path().join("outside");
    std::fs::write(&outside, "{}").unwrap();
    let make = |names: [&str; 4]| {
        let [fifo, dir, link, dev] = names;
        let fifo_path = std::ffi::CString::new(folder.join(fifo).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo_path.as_ptr(), 0o600) }, 0);
        std::fs::create_dir(folder.join(dir)).unwrap();
        std::os::unix::fs::symlink(&outside, folder.join(link)).unwrap();
        // A device node needs root; a socket stands in otherwise.
        let dev_path = std::ffi::CString::new(folder.join(dev).to_str().unwrap()).unwrap();
        let made = unsafe {
            libc::mknod(
                dev_path.as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(1, 3),
            )
        };
        if made != 0 {
            std::os::unix::net::UnixListener::bind(folder.join(dev)).unwrap();
        }
    };
    let invalid = |d: &Daemon| -> Vec<(String, u64)> {
        let p = d.json(&["push"]);
        let mut v: Vec<(String, u64)> = p["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let path = i["path"].as_str().unwrap();
                (
                    path.rsplit('/').next().unwrap().to_string(),
                    i["code"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    make(["f1f0", "d1d0", "5111", "de01"]);
    d.spawn(&opts);
    let at_start = invalid(&d);
    let names: Vec<&str> = at_start.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["5111", "d1d0", "de01", "f1f0"], "{at_start:?}");
    assert!(at_start.iter().all(|(_, c)| *c == 2));
    make(["f2f0", "d2d0", "5222", "de02"]);
    wait_until("special files made at runtime are seen", || {
        invalid(&d).len() == 8
    });
    let at_runtime = invalid(&d);
    d.ok(&["refresh"]);
    assert_eq!(invalid(&d), at_runtime, "the same after refresh");
    // Nothing was opened, followed or changed.
    assert_eq!(std::fs::read(&outside).unwrap(), b"{}");
    assert_eq!(d.json(&["status"])["live"], 3);
}

#[test]
fn kill_9_during_a_write_storm_leaves_no_torn_lost_or_temporary_file() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    // Restarts read the same config file: sign-in stays open.
    let mut d = Daemon::start_open("");
    let mut signed_in: Vec<String> = Vec::new();
    let mut interrupted = 0;
    for round in 0..20usize {
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let storm: Vec<_> = (0..4usize)
            .map(|t| {
                let (socket, done, stop) = (d.socket.clone(), done.clone(), stop.clone());
                std::thread::spawn(move || -> Vec<String> {
                    let rt = runtime();
                    let mut created = Vec::new();
                    let Ok(c) = rt.block_on(Client::connect(&socket)) else {
                        return created;
                    };
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let ok = if t == 0 {
                            let body =
                                android_body(&format!("STORM-{round}-{i}"), "storm@example.com");
                            match rt.block_on(c.authenticate(&body.to_string())) {
                                Ok(r) => {
                                    created.extend(r.id);
                                    true
                                }
                                Err(_) => false,
                            }
                        } else {
                            let s = if i % 2 == 0 {
                                Status::Pending
                            } else {
                                Status::Accepted
                            };
                            let id = [SEED_ID, IPAD_ID, ANDROID_ID][t - 1];
                            rt.block_on(c.set_status(s, &[id.to_string()], false))
                                .is_ok()
                        };
                        if !ok {
                            break;
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    created
                })
            })
            .collect();
        // Kill at a different point of the storm each round.
        let at = 30 + (round * 37) % 200;
        wait_until("the storm is under way", || {
            done.load(Ordering::Relaxed) >= at
        });
        d.signal(libc::SIGKILL);
        d.wait_exit();
        stop.store(true, Ordering::Relaxed);
        for t in storm {
            signed_in.extend(t.join().unwrap());
        }
        // Every session file is whole, and none answered for is missing.
        for (app, id) in [(IOS, SEED_ID), (IOS, IPAD_ID), (ANDROID, ANDROID_ID)]
            .into_iter()
            .map(|(a, i)| (a.to_string(), i.to_string()))
            .chain(signed_in.iter().map(|i| (ANDROID.to_string(), i.clone())))
        {
            let bytes = std::fs::read(d.file(&app, &id))
                .unwrap_or_else(|e| panic!("round {round}: {app}/{id} lost: {e}"));
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("round {round}: {app}/{id} torn: {e}"));
        }
        let temp_count = |d: &Daemon| {
            snapshot(&d.apps_dir())
                .into_iter()
                .filter(|(p, _)| p.to_str().unwrap().ends_with(".tmp"))
                .count()
        };
        interrupted += temp_count(&d);
        d.spawn(&Opts::default());
        let temps: Vec<_> = snapshot(&d.apps_dir())
            .into_iter()
            .filter(|(p, _)| p.to_str().unwrap().ends_with(".tmp"))
            .collect();
        assert!(
            temps.is_empty(),
            "round {round}: temporary files left: {temps:?}"
        );
        let p = d.json(&["push", "--full"]);
        assert_eq!(p["invalid"], serde_json::json!([]), "round {round}");
    }
    assert!(!signed_in.is_empty());
    eprintln!(
        "20 kills: {} sessions signed in, {interrupted} interrupted writes cleaned up at restart",
        signed_in.len()
    );
}
