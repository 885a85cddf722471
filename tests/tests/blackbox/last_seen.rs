//! Last seen: recorded by `verify` (accepted or pending), `authenticate` and
//! `user-info`, shown by `sessions`, kept across restarts and, within the
//! persistence interval, across a `kill -9`; and the listings by activity.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{
    android_body, wait_until, Daemon, Opts, ANDROID, ANDROID_ID, ANDROID_TOKEN, IOS, IPAD_ID,
    IPAD_TOKEN, OPEN_SIGN_IN, SEED_ID, SEED_TOKEN,
};

/// `last_seen` of each session of `sessions --json`, by id.
fn last_seen(d: &Daemon) -> Vec<(String, Value)> {
    let rows = d.json(&["sessions"]);
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["last_seen"].clone(),
            )
        })
        .collect()
}

fn seen_of(d: &Daemon, id: &str) -> Value {
    last_seen(d)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{id} is not listed"))
}

fn time_of(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().expect("a time")).expect("RFC 3339")
}

/// Whether `v` is a time between `from` and now (to the second).
fn recent(v: &Value, from: SystemTime) -> bool {
    let t = time_of(v);
    t + Duration::from_secs(1) >= from && t <= SystemTime::now() + Duration::from_secs(1)
}

fn ids(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

/// Sets a session file's last write to `days` ago.
fn written_days_ago(d: &Daemon, app: &str, id: &str, days: u64) {
    crate::common::written_days_ago(&d.file(app, id), days);
}

#[test]
fn verify_records_last_seen_and_a_restart_keeps_it() {
    let mut d = Daemon::start();
    assert!(last_seen(&d).iter().all(|(_, v)| v.is_null()));
    let before = SystemTime::now();
    d.ok(&["verify", SEED_TOKEN]);
    // A pending session passes verify too (exit 3).
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(3));
    let seed = seen_of(&d, SEED_ID);
    assert!(recent(&seed, before), "{seed}");
    assert!(recent(&seen_of(&d, IPAD_ID), before));
    assert!(seen_of(&d, ANDROID_ID).is_null());
    let table = d.ok(&["sessions"]);
    let line = table.lines().find(|l| l.contains(SEED_ID)).unwrap();
    assert!(line.contains("just now"), "{table}");
    assert!(table.lines().next().unwrap().contains("LAST SEEN"));
    // A push that replaces the live record keeps what it had seen.
    d.ok(&["set-status", "pending", SEED_ID, "--push"]);
    assert_eq!(seen_of(&d, SEED_ID), seed);
    // An unknown token is seen by nobody.
    assert_eq!(
        d.cli(&["verify", "eyJub3RoaW5nIjoxfQ"]).status.code(),
        Some(4)
    );

    assert!(d.stop().success());
    d.spawn(&Opts::default());
    assert_eq!(seen_of(&d, SEED_ID), seed, "lost across a restart");
    assert!(!seen_of(&d, IPAD_ID).is_null());
    assert!(seen_of(&d, ANDROID_ID).is_null());
}

#[test]
fn a_kill_9_loses_no_more_than_the_persistence_interval() {
    let mut d = Daemon::start();
    d.ok(&["verify", SEED_TOKEN]);
    let seed = seen_of(&d, SEED_ID);
    // Written down within the interval (10 s): wait for it, no longer.
    let journal = d.state_dir().join("last-seen.journal");
    wait_until("last seen is written down", || {
        std::fs::read_to_string(&journal).is_ok_and(|t| t.contains(SEED_ID))
    });
    d.signal(libc::SIGKILL);
    d.wait_exit();
    d.spawn(&Opts::default());
    assert_eq!(seen_of(&d, SEED_ID), seed, "lost by a kill -9");
    // The daemon's own state is never inside MobileApps.
    let state = d.state_dir().canonicalize().unwrap();
    assert!(d
        .log_text()
        .contains(&format!("state_dir={}", state.display())));
    assert!(!d.state_dir().starts_with(d.apps_dir()));
    let inside = crate::common::snapshot(&d.apps_dir());
    assert!(inside
        .iter()
        .all(|(p, _)| !p.to_string_lossy().contains("last-seen")));
}

#[test]
fn times_no_calendar_holds_in_the_last_seen_files_are_skipped_not_fatal() {
    let mut d = Daemon::prepare(&Opts::default());
    std::fs::create_dir_all(d.state_dir()).unwrap();
    // Beyond the year 9999 (u64::MAX seconds, and the year 33658): a
    // corrupt file, not a sighting. The one valid line stands.
    let lines = format!(
        "18446744073709551615 {IOS}/{SEED_ID}\n999999999999 {IOS}/{IPAD_ID}\n1700000000 {ANDROID}/{ANDROID_ID}\n"
    );
    std::fs::write(d.state_dir().join("last-seen"), lines).unwrap();
    d.spawn(&Opts::default());
    assert_eq!(seen_of(&d, SEED_ID), Value::Null);
    assert_eq!(seen_of(&d, IPAD_ID), Value::Null);
    assert_eq!(seen_of(&d, ANDROID_ID), "2023-11-14T22:13:20Z");
    assert!(d.log_text().contains("2 unreadable lines skipped"));
    // Every listing and command by activity answers.
    d.ok(&["sessions"]);
    d.ok(&["sessions", "--seen-after", "1h"]);
    d.ok(&["sessions", "--duplicates"]);
    d.ok(&["purge", "--inactive", "1d", "--dry-run"]);
    d.ok(&["dedupe", "--dry-run"]);
}

#[test]
fn sign_in_and_user_info_count_as_seen_and_tracking_can_be_off() {
    let d = Daemon::start_open("");
    let before = SystemTime::now();
    let body = android_body("new-device-1", "zoe@example.com").to_string();
    let reply: Value = serde_json::from_str(&crate::common::stdout(
        &d.cli_stdin(&["--json", "authenticate", "-"], &body),
    ))
    .unwrap();
    let id = reply["id"].as_str().expect("signed in").to_string();
    assert!(recent(&seen_of(&d, &id), before));
    d.cli_stdin(
        &["user-info", ANDROID_TOKEN, "-"],
        r#"{"userInfo":{"plan":"pro"}}"#,
    );
    assert!(recent(&seen_of(&d, ANDROID_ID), before));

    let off = Daemon::start_with(Opts {
        config: Some(format!("last_seen = false\n{OPEN_SIGN_IN}")),
        ..Default::default()
    });
    off.ok(&["verify", SEED_TOKEN]);
    off.cli_stdin(&["authenticate", "-"], &body);
    assert!(last_seen(&off).iter().all(|(_, v)| v.is_null()));
}

#[test]
fn seen_filters_keep_and_order_by_activity() {
    let d = Daemon::start();
    written_days_ago(&d, IOS, SEED_ID, 10);
    written_days_ago(&d, IOS, IPAD_ID, 100);
    written_days_ago(&d, ANDROID, ANDROID_ID, 50);
    let old = d.json(&["sessions", "--seen-before", "30d"]);
    assert_eq!(ids(&old), [IPAD_ID, ANDROID_ID], "oldest first");
    let fresh = d.json(&["sessions", "--seen-after", "30d"]);
    assert_eq!(ids(&fresh), [SEED_ID]);
    // Seen now: active, whatever its file says.
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(3));
    let fresh = d.json(&["sessions", "--seen-after", "30d"]);
    assert_eq!(ids(&fresh), [SEED_ID, IPAD_ID]);
    let all = d.json(&["sessions", "--sort", "activity"]);
    assert_eq!(ids(&all), [ANDROID_ID, SEED_ID, IPAD_ID]);
    let within_app = d.json(&["sessions", IOS, "--seen-before", "5d"]);
    assert_eq!(ids(&within_app), [SEED_ID]);
    // --sort id contradicts the filters: bad usage.
    let both = d.cli(&["sessions", "--seen-after", "1h", "--sort", "id"]);
    assert_eq!(both.status.code(), Some(2));
    assert_eq!(
        d.cli(&["sessions", "--seen-after", "soon"]).status.code(),
        Some(2)
    );
}

/// Runs the daemon with `extra` arguments and `env`, and no `--state-dir`
/// unless `extra` has one; waits until it answers, then stops it.
fn run_once(d: &Daemon, extra: &[&std::ffi::OsStr], env: &[(&str, &std::path::Path)]) {
    let mut cmd = std::process::Command::new(crate::common::daemon_bin());
    cmd.arg("--data-dir")
        .arg(&d.data)
        .arg("--socket")
        .arg(&d.socket)
        .arg("--config")
        .arg(d.dir.path().join("config.toml"))
        .args(extra)
        .env_remove("STATE_DIRECTORY")
        .env_remove("XDG_STATE_HOME")
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    wait_until("the daemon answers", || d.cli(&["status"]).status.success());
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_state_dir_follows_systemd_or_the_user_and_never_goes_inside_mobileapps() {
    let d = Daemon::prepare(&Opts::default());
    let systemd = d.dir.path().join("systemd-state");
    std::fs::create_dir(&systemd).unwrap();
    run_once(&d, &[], &[("STATE_DIRECTORY", &systemd)]);
    assert!(systemd.join("history.jsonl").is_file());
    // The user's state dir: one folder per data dir in it.
    let xdg = d.dir.path().join("xdg");
    run_once(&d, &[], &[("XDG_STATE_HOME", &xdg)]);
    let ours: Vec<_> = std::fs::read_dir(xdg.join("mobile-sessiond"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(ours[0].starts_with("Data-"), "{ours:?}");
    // --state-dir wins over both.
    let flag = d.dir.path().join("flag-state");
    run_once(
        &d,
        &["--state-dir".as_ref(), flag.as_os_str()],
        &[("STATE_DIRECTORY", &systemd)],
    );
    assert!(flag.join("history.jsonl").is_file());
    // Inside MobileApps: refused at start, nothing written there.
    let inside = d.apps_dir().join("state");
    let out = crate::common::daemon_once(&[
        "--data-dir".as_ref(),
        d.data.as_os_str(),
        "--socket".as_ref(),
        d.socket.as_os_str(),
        "--config".as_ref(),
        d.dir.path().join("config.toml").as_os_str(),
        "--state-dir".as_ref(),
        inside.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        crate::common::stderr(&out).contains("inside MobileApps"),
        "{}",
        crate::common::stderr(&out)
    );
    assert!(!inside.exists(), "a folder was made inside MobileApps");
}
