//! The disk view follows the folder on its own (inotify, and polling), and
//! `watch` streams what happens.

use crate::common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// A `mobile-session --json watch` child whose lines arrive on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(d: &Daemon) -> Self {
        let watchers = || d.json(&["status"])["watchers"].as_u64().unwrap_or(0);
        let before = watchers();
        let mut child = Command::new(client_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(["--json", "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx
                    .send(serde_json::from_str(&line).expect("watch prints JSON lines"))
                    .is_err()
                {
                    break;
                }
            }
        });
        // The subscription exists once the daemon counts one more watcher.
        wait_until("the watcher is subscribed", || watchers() > before);
        Self { child, lines }
    }

    /// Waits for an event matching `pred`.
    fn expect(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} event within the deadline"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is(ev: &Value, kind: &str, id: &str) -> bool {
    ev["event"] == kind
        && ev["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(id))
}

fn row(d: &Daemon, id: &str) -> Option<Value> {
    d.json(&["sessions"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
}

fn poll_opts() -> Opts {
    Opts {
        config: Some("watcher = \"poll\"\npoll_interval_ms = 50\n".into()),
        ..Default::default()
    }
}

/// Writes a session file whole: a dot-file (ignored) renamed into place.
/// `std::fs::write` creates or truncates, then writes: a writer stalled
/// between the two for longer than `settle_ms` lets the daemon read an
/// empty file (an `invalid` event, then `changed`).
fn put(path: &std::path::Path, text: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.test-tmp",
        path.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn every_kind_of_change(d: &Daemon) {
    let w = Watch::start(d);
    let app = "com.contactApp.Contact";
    let team = Some("UTT7VDX8W5");

    // Created in place (open, write, close), as a writer without a
    // temporary file does: the file is empty only for the microseconds
    // between the two. The other files of this test are put whole by a
    // rename.
    let id = "c0ffee0000000000000000000000000000000001";
    std::fs::write(
        d.file(IOS, id),
        session_json(app, team, id, "pending").to_string(),
    )
    .unwrap();
    wait_until("a created file shows up", || {
        row(d, id).is_some_and(|r| r["unpushed"] == "new")
    });
    w.expect("created", |e| is(e, "created", id));

    // Status changed by an external edit.
    // In place (no truncation: the new text is longer), one write.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(d.file(IOS, id))
            .unwrap();
        f.write_all(
            session_json(app, team, id, "accepted")
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    }
    wait_until("an edit shows up", || {
        row(d, id).is_some_and(|r| r["status"] == "accepted")
    });
    w.expect("status", |e| {
        is(e, "status", id) && e["status"] == "accepted"
    });

    // An editor's save: write a temporary, rename it over the file.
    let mut doc = session_json(app, team, id, "accepted");
    doc["email"] = "edited@example.com".into();
    let tmp = d.apps_dir().join(IOS).join(".edit.swp");
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, d.file(IOS, id)).unwrap();
    wait_until("a temp-then-rename save shows up", || {
        row(d, id).is_some_and(|r| r["email"] == "edited@example.com")
    });
    w.expect("changed", |e| is(e, "changed", id));

    // Invalid content.
    std::fs::write(d.file(IOS, id), "{ not json").unwrap();
    w.expect("invalid", |e| is(e, "invalid", id) && e["code"] == 2);

    // Deleted.
    std::fs::remove_file(d.file(IOS, id)).unwrap();
    w.expect("deleted", |e| is(e, "deleted", id));
    wait_until("a deleted file leaves the disk view", || {
        row(d, id).is_none()
    });

    // Renamed session file (mv old new): one goes, the other comes.
    let a = "aaaa000000000000000000000000000000000002";
    put(
        &d.file(IOS, a),
        &session_json(app, team, a, "accepted").to_string(),
    );
    w.expect("created", |e| is(e, "created", a));
    let b = "bbbb000000000000000000000000000000000003";
    std::fs::rename(d.file(IOS, a), d.file(IOS, b)).unwrap();
    w.expect("deleted after rename", |e| is(e, "deleted", a));
    w.expect("invalid after rename", |e| {
        is(e, "invalid", b) && e["code"] == 1
    });

    // A new app folder with a file written at once.
    let new_app = "NEWTEAM123.com.fresh.app";
    let nid = "dddd000000000000000000000000000000000004";
    std::fs::create_dir(d.apps_dir().join(new_app)).unwrap();
    put(
        &d.file(new_app, nid),
        &session_json("com.fresh.app", Some("NEWTEAM123"), nid, "accepted").to_string(),
    );
    wait_until("a new app folder's file shows up", || row(d, nid).is_some());
    w.expect("created in new folder", |e| is(e, "created", nid));
    assert!(d
        .json(&["apps"])
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["folder"] == new_app));

    // An app folder moved out of MobileApps and back in.
    let outside = d.dir.path().join("parked");
    std::fs::rename(d.apps_dir().join(new_app), &outside).unwrap();
    w.expect("deleted with its moved folder", |e| is(e, "deleted", nid));
    std::fs::rename(&outside, d.apps_dir().join(new_app)).unwrap();
    w.expect("created when the folder comes back", |e| {
        is(e, "created", nid)
    });

    // Deleting a whole app folder.
    std::fs::remove_dir_all(d.apps_dir().join(new_app)).unwrap();
    wait_until("a deleted app folder leaves", || {
        !d.json(&["apps"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["folder"] == new_app)
    });
    w.expect("deleted with its folder", |e| is(e, "deleted", nid));

    // Ignored files never produce anything.
    std::fs::write(d.apps_dir().join(IOS).join("google-services.json"), "{}").unwrap();
    // A push is announced with its counts.
    d.ok(&["push"]);
    let ev = w.expect("pushed", |e| e["event"] == "pushed");
    assert!(ev["push"]["added"].is_number());
    assert_eq!(d.json(&["status"])["invalid"], 1);
}

#[test]
fn inotify_sees_every_kind_of_change() {
    let d = Daemon::start();
    assert_eq!(d.json(&["status"])["watcher"], "inotify");
    every_kind_of_change(&d);
}

#[test]
fn polling_sees_every_kind_of_change() {
    let d = Daemon::start_with(poll_opts());
    assert!(d.json(&["status"])["watcher"]
        .as_str()
        .unwrap()
        .starts_with("poll"));
    every_kind_of_change(&d);
}

#[test]
fn poll_flag_forces_polling() {
    let d = Daemon::start_with(Opts {
        args: vec!["--poll".into()],
        ..Default::default()
    });
    assert!(d.json(&["status"])["watcher"]
        .as_str()
        .unwrap()
        .starts_with("poll"));
}

fn write_then_push_at_once(d: &Daemon, rounds: usize) {
    let app = "com.sample.tasks";
    for i in 0..rounds {
        let id = format!("{:040x}", 0xabc000 + i);
        std::fs::write(
            d.file(ANDROID, &id),
            session_json(app, None, &id, "accepted").to_string(),
        )
        .unwrap();
        let p = d.json(&["push"]);
        assert_eq!(
            p["added"], 1,
            "round {i}: the push must see the file written just before: {p}"
        );
        // And an edit, then a delete.
        std::fs::write(
            d.file(ANDROID, &id),
            session_json(app, None, &id, "pending").to_string(),
        )
        .unwrap();
        assert_eq!(d.json(&["push"])["updated"], 1, "round {i}");
        std::fs::remove_file(d.file(ANDROID, &id)).unwrap();
        assert_eq!(d.json(&["push"])["removed"], 1, "round {i}");
    }
}

#[test]
fn a_push_sees_a_file_written_just_before_it() {
    let d = Daemon::start();
    write_then_push_at_once(&d, 200);
}

#[test]
fn a_push_sees_a_file_written_just_before_it_when_polling() {
    let d = Daemon::start_with(poll_opts());
    write_then_push_at_once(&d, 20);
}

#[test]
fn queue_overflow_triggers_a_counted_rescan() {
    let d = Daemon::start_with(Opts {
        config: Some("watch_queue = 2\nsettle_ms = 50\n".into()),
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["rescans"], 0);
    let app = "com.sample.tasks";
    for i in 0..500 {
        let id = format!("{:040x}", 0xfeed000 + i);
        std::fs::write(
            d.file(ANDROID, &id),
            session_json(app, None, &id, "accepted").to_string(),
        )
        .unwrap();
    }
    wait_until("the overflow is counted", || {
        d.json(&["status"])["rescans"].as_u64() > Some(0)
    });
    wait_until("every file is in the disk view", || {
        d.json(&["status"])["on_disk"] == 503
    });
    assert!(d.log_text().contains("full rescan"));
}

#[test]
fn auto_push_applies_settled_changes() {
    let d = Daemon::start_with(Opts {
        args: vec!["--auto-push".into()],
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["auto_push"], true);
    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    wait_until("the delete is live without a push", || {
        d.cli(&["verify", ANDROID_TOKEN]).status.code() == Some(4)
    });
}

#[test]
fn a_stalled_watch_client_does_not_hold_anyone_up() {
    use mobile_session_proto::connection::encode;
    let d = Daemon::start();
    // A raw client that asks to watch, then never reads again.
    let (mut s, _) = raw_hello(&d);
    write_frame(
        &mut s,
        &encode(&mobile_session_proto::Request::Watch { app: None }).unwrap(),
    )
    .unwrap();
    wait_until("the stalled client is subscribed", || {
        d.json(&["status"])["watchers"] == 1
    });
    let live_watch = Watch::start(&d);

    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .to_string();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = rss();
    let app = "com.sample.tasks";
    // More events than the daemon buffers per watcher (1024) plus what the
    // socket holds: the stalled client must fall behind.
    for i in 0..5000u64 {
        let id = format!("{:040x}", 0xbeef_0000 + i);
        let doc = session_json(app, None, &id, "accepted");
        std::fs::write(d.file(ANDROID, &id), doc.to_string()).unwrap();
        if i % 500 == 0 {
            d.ok(&["status"]);
        }
    }
    wait_until("every file is seen", || {
        d.json(&["status"])["on_disk"] == 5003
    });
    d.ok(&["push"]);
    live_watch.expect("pushed, despite the stalled client", |e| {
        e["event"] == "pushed"
    });
    let after = rss();
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    // When the stalled client reads again, it is told what it missed.
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut lagged = None;
    while lagged.is_none() {
        let body = read_frame(&mut s).expect("the stalled stream is still open");
        if let mobile_session_proto::Response::Event(e) =
            mobile_session_proto::connection::decode(&body).unwrap()
        {
            if e.kind == mobile_session_proto::EventKind::Lagged {
                lagged = e.count;
            }
        }
    }
    assert!(lagged.unwrap_or(0) > 0);
    // Stopping is not held up by the stalled client either.
    drop(live_watch);
    let mut d = d;
    assert!(d.stop().success());
}

#[test]
fn names_that_are_not_utf8_and_touches_of_the_root_cost_no_rescan() {
    use std::os::unix::ffi::OsStrExt;
    let d = Daemon::start();
    let w = Watch::start(&d);
    let odd = std::ffi::OsStr::from_bytes(b"\xff\xfe");
    std::fs::write(d.apps_dir().join(odd), "x").unwrap();
    std::fs::write(d.apps_dir().join(ANDROID).join(odd), "x").unwrap();
    std::fs::set_permissions(
        d.apps_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    // Something real afterwards: once it is seen, the odd ones were too.
    let id = "0dd0000000000000000000000000000000000000";
    put(
        &d.file(ANDROID, id),
        &session_json(ANDROID, None, id, "accepted").to_string(),
    );
    w.expect("created", |e| is(e, "created", id));
    assert_eq!(d.json(&["status"])["rescans"], 0);
    assert_eq!(d.json(&["push"])["added"], 1);
}

#[test]
fn a_folder_moved_out_and_made_again_is_watched_anew() {
    let d = Daemon::start();
    let parked = d.dir.path().join("parked");
    std::fs::rename(d.apps_dir().join(ANDROID), &parked).unwrap();
    wait_until("the folder is gone from the view", || {
        !d.json(&["apps"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["folder"] == ANDROID)
    });
    std::fs::create_dir(d.apps_dir().join(ANDROID)).unwrap();
    let id = "0dd1000000000000000000000000000000000000";
    std::fs::write(
        d.file(ANDROID, id),
        session_json(ANDROID, None, id, "accepted").to_string(),
    )
    .unwrap();
    // A plain push (the watcher vouches for the view) must see it.
    wait_until("the new folder's file is pushed", || {
        d.json(&["push"])["added"] == 1
    });
    assert_eq!(d.cli(&["verify", ANDROID_TOKEN]).status.code(), Some(4));
    // What happens in the moved-out copy is none of ours.
    std::fs::remove_file(parked.join(ANDROID_ID)).unwrap();
    let id2 = "0dd2000000000000000000000000000000000000";
    std::fs::write(
        d.file(ANDROID, id2),
        session_json(ANDROID, None, id2, "accepted").to_string(),
    )
    .unwrap();
    wait_until("the second file is pushed", || {
        d.json(&["push"])["added"] == 1
    });
    assert_eq!(d.json(&["status"])["live"], 4);
}

fn has_app(d: &Daemon, folder: &str) -> bool {
    d.json(&["apps"])
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["folder"] == folder)
}

/// An app folder renamed within `MobileApps`, then a session written in
/// it: one plain push sees it.
fn a_renamed_folder_stays_watched(d: &Daemon) {
    std::fs::create_dir(d.apps_dir().join("com.moved.a")).unwrap();
    wait_until("com.moved.a is in the view", || has_app(d, "com.moved.a"));
    std::fs::rename(
        d.apps_dir().join("com.moved.a"),
        d.apps_dir().join("com.moved.b"),
    )
    .unwrap();
    wait_until("com.moved.b is in the view", || {
        has_app(d, "com.moved.b") && !has_app(d, "com.moved.a")
    });
    let id = "0dd3000000000000000000000000000000000000";
    std::fs::write(
        d.file("com.moved.b", id),
        session_json("com.moved.b", None, id, "accepted").to_string(),
    )
    .unwrap();
    assert_eq!(d.json(&["push"])["added"], 1);
}

#[test]
fn a_folder_renamed_within_the_root_stays_watched() {
    a_renamed_folder_stays_watched(&Daemon::start());
}

#[test]
fn a_folder_renamed_within_the_root_stays_watched_when_polling() {
    a_renamed_folder_stays_watched(&Daemon::start_with(poll_opts()));
}

/// A `manifest.json` written after its folder was read names the app at
/// the next plain push, as a full push would.
fn a_late_manifest_names_its_app(d: &Daemon) {
    std::fs::create_dir(d.apps_dir().join("com.named.late")).unwrap();
    wait_until("the folder is in the view", || has_app(d, "com.named.late"));
    std::fs::write(
        d.apps_dir().join("com.named.late").join("manifest.json"),
        r#"{"application":{"id":"com.named.late","name":"Late"}}"#,
    )
    .unwrap();
    let name = |d: &Daemon| {
        d.json(&["apps"])
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["folder"] == "com.named.late")
            .map(|a| a["name"].clone())
    };
    d.json(&["push"]);
    assert_eq!(name(d), Some(Value::from("Late")));
}

#[test]
fn a_manifest_written_late_names_its_app() {
    a_late_manifest_names_its_app(&Daemon::start());
}

#[test]
fn a_manifest_written_late_names_its_app_when_polling() {
    a_late_manifest_names_its_app(&Daemon::start_with(poll_opts()));
}
