//! Every management command against a copy of the example tree, in human
//! and `--json` form (the shapes of README.md's "JSON output"), with the
//! exit codes README.md and `mobile-session(1)` document.

use crate::common::*;
use serde_json::{json, Value};

#[test]
fn apps_human_and_json() {
    let d = Daemon::start();
    let human = d.ok(&["apps"]);
    assert!(human.starts_with("FOLDER"), "{human}");
    assert!(human.contains(IOS) && human.contains(ANDROID), "{human}");
    let apps = d.json(&["apps"]);
    assert_eq!(
        apps,
        json!([
            {"folder": IOS, "app_id": "com.contactApp.Contact", "name": "Contact", "team_id": "UTT7VDX8W5", "sessions": 2, "pending": 1},
            {"folder": ANDROID, "app_id": "com.sample.tasks", "name": "Tasks", "team_id": null, "sessions": 1, "pending": 0},
        ])
    );
    // --json after the command works too.
    assert_eq!(
        serde_json::from_str::<Value>(&d.ok(&["apps", "--json"])).unwrap(),
        apps
    );
}

#[test]
fn sessions_rows_and_filters() {
    let d = Daemon::start();
    let rows = d.json(&["sessions"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let seed = rows.iter().find(|r| r["id"] == SEED_ID).unwrap();
    assert_eq!(seed["app"], IOS);
    assert_eq!(seed["status"], "accepted");
    assert_eq!(seed["email"], "");
    assert_eq!(seed["device"]["description"], "iPhone X");
    assert_eq!(seed["unpushed"], Value::Null);
    assert_eq!(
        seed["path"].as_str().unwrap(),
        d.file(IOS, SEED_ID)
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let keys: Vec<&String> = seed.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "app",
            "id",
            "status",
            "email",
            "device",
            "path",
            "unpushed",
            "last_seen"
        ]
    );
    assert_eq!(seed["last_seen"], Value::Null, "never seen yet");

    let ids = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["sessions"];
        a.extend_from_slice(args);
        d.json(&a)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&[ANDROID]), [ANDROID_ID]);
    assert_eq!(
        ids(&["com.contactApp.Contact"]).len(),
        2,
        "an unambiguous app id works"
    );
    assert_eq!(
        ids(&["Tasks"]),
        [ANDROID_ID],
        "an unambiguous app name works"
    );
    assert_eq!(ids(&["--status", "pending"]), [IPAD_ID]);
    assert_eq!(ids(&["--email", "LI.WEI@example.com"]), [ANDROID_ID]);
    assert_eq!(
        ids(&[
            "--device-token",
            "f3a9c1d2e4b5a6978899aabbccddeeff00112233445566778899aabbccddeeff"
        ]),
        [IPAD_ID]
    );
    assert!(ids(&["--email", "nobody@example.com"]).is_empty());

    let human = d.ok(&["sessions"]);
    assert!(
        human.contains("iPad Pro (11-inch)") && human.contains("ipadOS 17.4"),
        "{human}"
    );
    assert!(human.contains("Android 34 (Android U)"), "{human}");

    let unknown = d.cli(&["sessions", "com.nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).starts_with("error:"),
        "{}",
        stderr(&unknown)
    );
    let bad = d.cli(&["sessions", "--status", "maybe"]);
    assert_eq!(bad.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn show_and_path() {
    let d = Daemon::start();
    let file = d.file(ANDROID, ANDROID_ID);
    let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for arg in [
        ANDROID_ID,
        "1818",
        "1818E811",
        &format!("{ANDROID}/{ANDROID_ID}"),
        "com.sample.tasks/1818e8",
    ] {
        assert_eq!(d.json(&["show", arg]), stored, "show {arg}");
    }
    // Key order survives.
    let shown = d.ok(&["--json", "show", ANDROID_ID]);
    let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&shown)
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys.last().unwrap(), "parameters");
    let human = d.ok(&["show", "1818"]);
    assert_eq!(serde_json::from_str::<Value>(&human).unwrap(), stored);
    // An invalid file is when an admin looks: shown as stored; `--json`
    // prints JSON or nothing, and fails as for an invalid file.
    let torn = "{\"application\": {\"id\": \"com.sample.tasks\"}, \"sess";
    std::fs::write(&file, torn).unwrap();
    assert_eq!(d.ok(&["show", "1818"]).trim_end(), torn);
    let json = d.cli(&["--json", "show", "1818"]);
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    assert!(json.stdout.is_empty(), "{}", stdout(&json));
    assert!(
        stderr(&json).starts_with("error: ")
            && stderr(&json).contains("not valid JSON")
            && stderr(&json).contains("without --json prints it as stored"),
        "{}",
        stderr(&json)
    );
    // JSON that is not an object (4D's code 2) is no session either.
    std::fs::write(&file, "[1,2]").unwrap();
    let json = d.cli(&["--json", "show", "1818"]);
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    assert!(json.stdout.is_empty(), "{}", stdout(&json));
    assert!(
        stderr(&json).contains("is an array, not a JSON object"),
        "{}",
        stderr(&json)
    );
    // Control characters from the file never reach the terminal.
    std::fs::write(&file, format!("{torn}\u{1b}[2J\u{9b}1m\r\n\tend")).unwrap();
    let human = d.cli(&["show", "1818"]);
    assert!(human.status.success(), "{}", stderr(&human));
    assert!(
        !human.stdout.contains(&0x1b) && !human.stdout.contains(&b'\r'),
        "{:?}",
        stdout(&human)
    );
    assert_eq!(stdout(&human), format!("{torn}?[2J?1m\n\tend\n"));
    std::fs::write(&file, serde_json::to_vec_pretty(&stored).unwrap()).unwrap();

    let path = d.ok(&["path", "a6a3"]);
    assert_eq!(
        path.trim(),
        d.file(IOS, IPAD_ID)
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert_eq!(
        d.json(&["path", IPAD_ID])["path"].as_str().unwrap(),
        d.file(IOS, IPAD_ID)
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let missing = d.cli(&["show", "ffff"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no session matches"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    let d = Daemon::start();
    let other = "7023aaaa00000000000000000000000000000000";
    let doc = session_json(
        "com.contactApp.Contact",
        Some("UTT7VDX8W5"),
        other,
        "accepted",
    );
    std::fs::write(d.file(IOS, other), doc.to_string()).unwrap();
    d.ok(&["refresh"]);
    let out = d.cli(&["show", "7023"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(SEED_ID) && err.contains(other), "{err}");
    // A full id is never ambiguous.
    assert!(d.cli(&["show", SEED_ID]).status.success());
    assert!(d.cli(&["show", "7023d"]).status.success());
}

#[test]
fn set_status_accept_delete_push_refresh() {
    let d = Daemon::start();
    let r = d.json(&["set-status", "accepted", "a6a3"]);
    assert_eq!(r["sessions"][0]["id"], IPAD_ID);
    assert_eq!(r["sessions"][0]["status"], "accepted");
    assert_eq!(r["sessions"][0]["changed"], true);
    assert_eq!(r["push"], Value::Null);
    assert_eq!(d.unpushed(IPAD_ID), Some(json!("changed")));
    // Already accepted: nothing is rewritten.
    let before = std::fs::metadata(d.file(IOS, IPAD_ID))
        .unwrap()
        .modified()
        .unwrap();
    let r = d.json(&["accept", IPAD_ID]);
    assert_eq!(r["sessions"][0]["changed"], false);
    assert_eq!(
        std::fs::metadata(d.file(IOS, IPAD_ID))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );

    let p = d.json(&["push"]);
    assert_eq!(
        p,
        json!({"added": 0, "updated": 1, "removed": 0, "unchanged": 2, "invalid": []})
    );
    assert_eq!(d.unpushed(IPAD_ID), Some(Value::Null));

    let r = d.json(&["set-status", "pending", SEED_ID, ANDROID_ID, "--push"]);
    assert_eq!(r["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(r["push"]["updated"], 2);
    assert_eq!(d.json(&["apps"])[0]["pending"], 1);

    let human = d.ok(&["delete", "1818"]);
    assert!(human.contains("deleted"), "{human}");
    assert!(!d.file(ANDROID, ANDROID_ID).exists());
    assert_eq!(d.unpushed(ANDROID_ID), Some(json!("deleted")));
    let p = d.json(&["push"]);
    assert_eq!(p["removed"], 1);
    assert_eq!(d.unpushed(ANDROID_ID), None);

    let apps = d.json(&["refresh"]);
    assert_eq!(apps[1]["folder"], ANDROID);
    assert_eq!(apps[1]["sessions"], 0);
    assert!(d.ok(&["refresh"]).starts_with("FOLDER"));

    let human = d.ok(&["push"]);
    assert!(human.contains("0 added"), "{human}");

    // Several targets, one unknown: nothing changes.
    let before = snapshot(&d.apps_dir());
    let out = d.cli(&["accept", SEED_ID, "deadbeef"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(snapshot(&d.apps_dir()), before);
}

#[test]
fn status_command() {
    let d = Daemon::start();
    let s = d.json(&["status"]);
    for k in [
        "version", "pid", "data_dir", "socket", "live", "on_disk", "unpushed", "invalid",
    ] {
        assert!(s.get(k).is_some(), "status lacks {k}: {s}");
    }
    assert_eq!(s["pid"], d.pid());
    assert_eq!(s["live"], 3);
    assert_eq!(s["on_disk"], 3);
    assert_eq!(s["unpushed"], 0);
    assert_eq!(s["invalid"], 0);
    assert_eq!(s["socket"], d.socket.to_str().unwrap());
    let human = d.ok(&["status"]);
    assert!(human.contains("3 live"), "{human}");
}

#[test]
fn unreachable_daemon_exits_69_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let out = std::process::Command::new(client_bin())
        .arg("--socket")
        .arg(&sock)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.starts_with("error:")
            && err.contains(sock.to_str().unwrap())
            && err.contains("mobile-sessiond"),
        "{err}"
    );
    // The environment variable is honoured too.
    let out = std::process::Command::new(client_bin())
        .env("MOBILE_SESSION_SOCKET", &sock)
        .arg("apps")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert!(stderr(&out).contains(sock.to_str().unwrap()));
}

#[test]
fn json_mode_keeps_stdout_clean() {
    let d = Daemon::start();
    // Messages (like "not live yet") go to stderr, so stdout parses.
    let out = d.cli(&["--json", "accept", IPAD_ID]);
    assert!(out.status.success());
    serde_json::from_slice::<Value>(&out.stdout).unwrap();
    let out = d.cli(&["--json", "show", "zzzz"]);
    assert_eq!(out.status.code(), Some(2), "not a session id: bad usage");
    assert!(out.stdout.is_empty());
    let out = d.cli(&["--json", "show", "ffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn completions_and_man_page() {
    let out = std::process::Command::new(client_bin())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("mobile-session"));
    let out = std::process::Command::new(client_bin())
        .arg("man")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains(".TH"));
}
