//! `history`: every change made through the daemon is one record, with the
//! caller's uid, pid and process; changes other writers make are not.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::common::{
    ios_body, session_json, wait_until, written_days_ago, Daemon, ANDROID, ANDROID_TOKEN, IOS,
    IPAD_ID, SEED_DEVICE, SEED_ID,
};

fn records(d: &Daemon, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["history"];
    a.extend_from_slice(args);
    d.json(&a).as_array().unwrap().clone()
}

fn actions(recs: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in recs {
        *out.entry(r["action"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

/// Writes a session file of the Android app (renamed into place).
fn put(d: &Daemon, id: &str, device: &str, days_old: u64) {
    let mut v = session_json(ANDROID, None, id, "accepted");
    v["device"]["id"] = device.into();
    let tmp = d.dir.path().join(format!(".{id}"));
    std::fs::write(&tmp, v.to_string()).unwrap();
    written_days_ago(&tmp, days_old);
    std::fs::rename(&tmp, d.file(ANDROID, id)).unwrap();
}

#[test]
fn every_kind_of_change_is_one_record_with_the_callers_uid() {
    let d = Daemon::start_open("");
    let uid = unsafe { libc::geteuid() };
    d.cli_stdin(
        &["user-info", ANDROID_TOKEN, "-"],
        r#"{"userInfo":{"a":1}}"#,
    );
    d.ok(&["logout", ANDROID_TOKEN]);
    d.ok(&["set-status", "pending", SEED_ID]);
    let body = ios_body("history-device", "h@example.com").to_string();
    assert!(d.cli_stdin(&["authenticate", "-"], &body).status.success());
    d.ok(&["delete", IPAD_ID]);
    d.ok(&["push"]);
    put(
        &d,
        "aaaa000000000000000000000000000000000001",
        "old-one",
        400,
    );
    put(&d, "aaaa000000000000000000000000000000000002", "twin", 3);
    put(&d, "aaaa000000000000000000000000000000000003", "twin", 2);
    d.ok(&["refresh"]);
    d.ok(&["purge", "--inactive", "365d", "--yes"]);
    d.ok(&["dedupe", "--yes"]);
    d.ok(&["block", SEED_ID]);
    let refused = d.cli_stdin(
        &["authenticate", "-"],
        &ios_body(SEED_DEVICE, "").to_string(),
    );
    assert_eq!(refused.status.code(), Some(4));
    d.ok(&["unblock", "--app", IOS, "--device", SEED_DEVICE]);
    // Dry runs and reads change nothing and are not recorded.
    d.ok(&["push", "--dry-run"]);
    d.ok(&["purge", "--inactive", "1d", "--dry-run"]);
    d.ok(&["dedupe", "--dry-run"]);
    d.ok(&[
        "delete",
        "aaaa000000000000000000000000000000000003",
        "--dry-run",
    ]);
    // Another writer's change goes through the watcher, not the daemon.
    std::fs::remove_file(d.file(ANDROID, "aaaa000000000000000000000000000000000003")).unwrap();
    wait_until("the watcher sees the deletion", || {
        d.unpushed("aaaa000000000000000000000000000000000003")
            .is_none()
    });

    let all = records(&d, &[]);
    let want: BTreeMap<String, usize> = [
        ("block", 1),
        ("delete", 1),
        ("dedupe", 1),
        ("logout", 1),
        ("purge", 1),
        ("push", 1),
        ("sign-in", 2),
        ("status", 1),
        ("unblock", 1),
        ("user-info", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(actions(&all), want, "{all:#?}");
    for r in &all {
        assert_eq!(r["uid"], uid, "{r}");
        assert!(r["pid"].as_u64().is_some_and(|p| p > 0), "{r}");
        assert_eq!(r["process"], "mobile-session", "{r}");
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["time", "uid", "pid", "process", "action", "app", "id", "before", "after"]
        );
    }
    // Oldest first, newest last.
    let times: Vec<SystemTime> = all
        .iter()
        .map(|r| humantime::parse_rfc3339(r["time"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let status = all.iter().find(|r| r["action"] == "status").unwrap();
    assert_eq!(
        (&status["before"], &status["after"]),
        (&"accepted".into(), &"pending".into())
    );
    assert_eq!(
        (status["app"].as_str(), status["id"].as_str()),
        (Some(IOS), Some(SEED_ID))
    );
    let signed: Vec<&Value> = all.iter().filter(|r| r["action"] == "sign-in").collect();
    assert_eq!(signed[0]["after"], "accepted");
    assert!(signed[0]["before"].is_null(), "a new session");
    assert_eq!(signed[1]["after"], "refused");
    // The deleted iPad (the logout took the other out at once).
    assert_eq!(
        all.iter().find(|r| r["action"] == "push").unwrap()["after"]["removed"],
        1
    );

    // Of one session (deleted since, named by a prefix), of one app, of a time.
    let ipad = records(&d, &[&IPAD_ID[..6]]);
    assert_eq!(actions(&ipad), [("delete".to_string(), 1)].into());
    let seed = records(&d, &[SEED_ID]);
    assert_eq!(
        actions(&seed).keys().collect::<Vec<_>>(),
        ["block", "status"]
    );
    let android = records(&d, &["com.sample.tasks"]);
    assert!(android.iter().all(|r| r["app"] == ANDROID));
    assert_eq!(android.len(), 4, "user-info, logout, purge, dedupe");
    assert_eq!(records(&d, &["--since", "1h"]).len(), all.len());
    assert!(d.ok(&["history"]).contains("accepted → pending"));
    // The history file, and the log, have each record.
    let file = std::fs::read_to_string(d.state_dir().join("history.jsonl")).unwrap();
    assert_eq!(file.lines().count(), all.len());
    assert!(d.log_text().contains("\"action\":\"block\""));
}

#[test]
fn a_notification_sent_is_recorded_a_dry_run_is_not() {
    let s = crate::notify::configured();
    let app = crate::notify::IOS;
    s.d.ok(&["notify", app, "--all", "--title", "Hi", "--dry-run"]);
    assert!(records(&s.d, &[]).is_empty());
    s.d.ok(&["notify", app, "--all", "--title", "Hi"]);
    let all = records(&s.d, &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (all[0]["action"].as_str(), all[0]["app"].as_str()),
        (Some("notify"), Some(app))
    );
    assert_eq!(all[0]["after"]["sent"], 2);
    assert_eq!(all[0]["uid"], unsafe { libc::geteuid() });
}

#[test]
fn the_operators_commands_have_man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::common::client_bin())
        .arg("man")
        .arg("--out-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    for cmd in ["purge", "dedupe", "block", "unblock", "blocked", "history"] {
        let page = std::fs::read_to_string(dir.path().join(format!("mobile-session-{cmd}.1")))
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(page.contains("mobile\\-session"), "{cmd}");
    }
    let main = std::fs::read_to_string(dir.path().join("mobile-session.1")).unwrap();
    assert!(main.contains("history") && main.contains("dedupe"));
}
