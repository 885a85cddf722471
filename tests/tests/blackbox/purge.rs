//! `purge --inactive` and `sessions --duplicates` / `dedupe`, against
//! session files of known modification times.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{
    session_json, snapshot, written_days_ago, Daemon, ANDROID, ANDROID_ID, IOS, IPAD_ID,
    IPAD_TOKEN, SEED_ID,
};

/// Writes a session of the Android app (`device.id` and push token as
/// given) last written `days` ago; renamed into place, so the watcher sees
/// it whole.
fn put(d: &Daemon, id: &str, device: &str, token: Option<&str>, days: u64) {
    let mut v = session_json(ANDROID, None, id, "accepted");
    v["device"]["id"] = device.into();
    if let Some(t) = token {
        v["device"]["token"] = t.into();
    }
    let tmp = d.dir.path().join(format!(".{id}"));
    std::fs::write(&tmp, v.to_string()).unwrap();
    written_days_ago(&tmp, days);
    std::fs::rename(&tmp, d.file(ANDROID, id)).unwrap();
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

fn listed(d: &Daemon, id: &str) -> bool {
    ids(&d.json(&["sessions"])).contains(&id)
}

#[test]
fn purge_deletes_the_inactive_sessions_and_a_dry_run_nothing() {
    let d = Daemon::start();
    written_days_ago(&d.file(IOS, SEED_ID), 200);
    written_days_ago(&d.file(IOS, IPAD_ID), 100);
    written_days_ago(&d.file(ANDROID, ANDROID_ID), 50);
    // Its file is old, but the device was seen now.
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(3));
    let before = snapshot(&d.apps_dir());
    let plan = d.json(&["purge", "--inactive", "30d", "--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(
        ids(&plan["sessions"]),
        [SEED_ID, ANDROID_ID],
        "oldest first"
    );
    let cutoff = humantime::parse_rfc3339(plan["cutoff"].as_str().unwrap()).unwrap();
    let thirty_days = Duration::from_secs(30 * 86_400);
    assert!(cutoff <= SystemTime::now() - thirty_days + Duration::from_secs(1));
    let first = &plan["sessions"][0];
    assert!(first["last_seen"].is_null() && first["modified"].is_string());
    assert_eq!(snapshot(&d.apps_dir()), before, "a dry run changed files");
    // The text says what it would do.
    let text = d.ok(&["purge", "--inactive", "30d", "--dry-run"]);
    assert!(
        text.contains("would delete") && text.contains("200 days ago"),
        "{text}"
    );

    // Of one app only, then everywhere; pushed, they leave the live view.
    let one = d.json(&["purge", "--inactive", "30d", ANDROID, "--yes"]);
    assert_eq!(ids(&one["sessions"]), [ANDROID_ID]);
    assert!(!d.file(ANDROID, ANDROID_ID).exists());
    assert!(d.file(IOS, SEED_ID).exists());
    let done = d.json(&["purge", "--inactive", "30d", "--yes", "--push"]);
    assert_eq!(ids(&done["sessions"]), [SEED_ID]);
    assert_eq!(done["sessions"][0]["changed"], true);
    assert_eq!(done["push"]["removed"], 2);
    assert!(!d.file(IOS, SEED_ID).exists() && d.file(IOS, IPAD_ID).exists());
    assert!(!listed(&d, SEED_ID) && listed(&d, IPAD_ID));
    let none = d.json(&["purge", "--inactive", "30d", "--yes"]);
    assert_eq!(none["sessions"], Value::Array(vec![]));
    // Zero would delete everything: refused before anything is asked.
    assert_eq!(d.cli(&["purge", "--inactive", "0s"]).status.code(), Some(2));
}

#[test]
fn dedupe_keeps_the_most_recently_active_of_each_group() {
    let d = Daemon::start();
    let phone = "9774d56d682e549c"; // ANDROID_ID's device
    let (a, b, c) = (
        "dddd000000000000000000000000000000000001",
        "dddd000000000000000000000000000000000002",
        "dddd000000000000000000000000000000000003",
    );
    written_days_ago(&d.file(ANDROID, ANDROID_ID), 20);
    put(&d, a, phone, None, 40); // older, same device
    put(&d, b, phone, None, 5); // the newest of the device: kept
                                // Another device sharing a push token with a third: a group of two.
    let (e, f) = (
        "eeee000000000000000000000000000000000001",
        "eeee000000000000000000000000000000000002",
    );
    put(&d, e, "tablet-1", Some("push-token-x"), 30);
    put(&d, f, "tablet-2", Some("push-token-x"), 60);
    put(&d, c, "alone", None, 90);
    d.ok(&["push", "--full"]);
    let dups = d.json(&["sessions", "--duplicates"]);
    assert_eq!(ids(&dups), [b, ANDROID_ID, a, e, f]);
    let groups: Vec<&Value> = dups
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["group"])
        .collect();
    assert_eq!(
        groups,
        [&Value::from(1), &1.into(), &1.into(), &2.into(), &2.into()]
    );
    let before = snapshot(&d.apps_dir());
    let plan = d.json(&["dedupe", "--dry-run"]);
    assert_eq!(ids(&plan["sessions"]), [ANDROID_ID, a, f]);
    let kept: Vec<&str> = plan["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kept"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [b, b, e]);
    assert_eq!(snapshot(&d.apps_dir()), before, "a dry run changed files");
    // Another app's device of the same id is not a duplicate of these.
    let done = d.json(&["dedupe", ANDROID, "--yes", "--push"]);
    assert_eq!(ids(&done["sessions"]), [ANDROID_ID, a, f]);
    assert_eq!(done["push"]["removed"], 3);
    for gone in [ANDROID_ID, a, f] {
        assert!(!d.file(ANDROID, gone).exists(), "{gone}");
    }
    for stays in [b, c, e] {
        assert!(d.file(ANDROID, stays).exists(), "{stays}");
    }
    assert_eq!(d.json(&["sessions", "--duplicates"]), Value::Array(vec![]));
    assert_eq!(
        d.json(&["dedupe", "--yes"])["sessions"],
        Value::Array(vec![])
    );
}
