//! `block`, `unblock` and `blocked`: a device's sessions go at once, its
//! next sign-in is refused whatever the policy (the hook is not asked),
//! and the deny-list survives restarts.

use serde_json::Value;

use crate::common::{
    android_body, ios_body, session_json, stdout, Daemon, Opts, ANDROID, ANDROID_DEVICE,
    ANDROID_ID, ANDROID_TOKEN, IOS, OPEN_SIGN_IN, SEED_DEVICE, SEED_ID, SEED_TOKEN,
};

/// Signs `body` in; the answer and the exit code.
fn sign_in(d: &Daemon, body: &Value) -> (Value, i32) {
    let out = d.cli_stdin(&["--json", "authenticate", "-"], &body.to_string());
    let v = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (v, out.status.code().unwrap_or(-1))
}

/// A daemon whose hook admits everyone and leaves a line in a file each
/// time it runs.
fn with_counting_hook() -> (Daemon, std::path::PathBuf) {
    let mut d = Daemon::prepare(&Opts::default());
    let runs = d.dir.path().join("hook-runs");
    let script = format!(
        "echo run >> {}; echo '{{\"success\": true}}'",
        runs.display()
    );
    let config = format!("{OPEN_SIGN_IN}hook = [\"/bin/sh\", \"-c\", {:?}]\n", script);
    std::fs::write(d.dir.path().join("config.toml"), config).unwrap();
    d.spawn(&Opts::default());
    (d, runs)
}

fn hook_runs(runs: &std::path::Path) -> usize {
    std::fs::read_to_string(runs).map_or(0, |t| t.lines().count())
}

#[test]
fn a_blocked_device_is_out_at_once_refused_and_let_in_again() {
    let (mut d, runs) = with_counting_hook();
    d.ok(&["verify", SEED_TOKEN]);
    let report = d.json(&["block", &SEED_ID[..8], "--reason", "Lost phone, call 4242"]);
    assert_eq!(report["blocked"][0]["app"], IOS);
    assert_eq!(report["blocked"][0]["device"], SEED_DEVICE);
    assert_eq!(report["blocked"][0]["uid"], unsafe { libc::geteuid() });
    assert_eq!(report["sessions"][0]["id"], SEED_ID);
    assert_eq!(report["sessions"][0]["changed"], true);
    // Deleted and out of the live view, no push needed.
    assert!(!d.file(IOS, SEED_ID).exists());
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(4));
    // Refused whatever the policy, with the reason, the hook not asked.
    let (answer, code) = sign_in(&d, &ios_body(SEED_DEVICE, "x@example.com"));
    assert_eq!(code, 4, "{answer}");
    assert_eq!(answer["success"], false);
    assert_eq!(answer["statusText"], "Lost phone, call 4242");
    assert_eq!(hook_runs(&runs), 0);
    let list = d.json(&["blocked"]);
    assert_eq!(list[0]["reason"], "Lost phone, call 4242");
    assert_eq!(list[0]["process"], "mobile-session");
    assert!(list[0]["time"].as_str().unwrap().ends_with('Z'));
    assert!(d.ok(&["blocked"]).contains("Lost phone"));

    // Blocks survive a restart.
    assert!(d.stop().success());
    d.spawn(&Opts::default());
    assert_eq!(d.json(&["blocked"]), list);
    assert_eq!(sign_in(&d, &ios_body(SEED_DEVICE, "x@example.com")).1, 4);
    assert_eq!(hook_runs(&runs), 0);

    // Lifted, by app id: the device signs in (the hook decides again).
    let lifted = d.json(&[
        "unblock",
        "--app",
        "com.contactApp.Contact",
        "--device",
        SEED_DEVICE,
    ]);
    assert_eq!(lifted["changed"], true);
    assert_eq!(lifted["app"], IOS);
    let (answer, code) = sign_in(&d, &ios_body(SEED_DEVICE, "x@example.com"));
    assert_eq!(
        (code, &answer["success"]),
        (0, &Value::Bool(true)),
        "{answer}"
    );
    assert_eq!(hook_runs(&runs), 1);
    assert_eq!(d.json(&["blocked"]), Value::Array(vec![]));
    let again = d.json(&["unblock", "--app", IOS, "--device", SEED_DEVICE]);
    assert_eq!(again["changed"], false);
}

#[test]
fn a_device_is_blocked_by_its_id_with_every_session_it_has() {
    let d = Daemon::start_open("");
    // A second session of the Android device (a duplicate), and a long
    // iOS DeviceCheck id of 8 KiB.
    let dup = "ffff000000000000000000000000000000000001";
    let mut v = session_json(ANDROID, None, dup, "accepted");
    v["device"]["id"] = ANDROID_DEVICE.into();
    std::fs::write(d.file(ANDROID, dup), v.to_string()).unwrap();
    d.ok(&["push"]);
    let report = d.json(&["block", "--app", ANDROID, "--device", ANDROID_DEVICE]);
    let mut gone: Vec<&str> = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    gone.sort();
    assert_eq!(gone, [ANDROID_ID, dup]);
    assert_eq!(d.cli(&["verify", ANDROID_TOKEN]).status.code(), Some(4));
    assert_eq!(sign_in(&d, &android_body(ANDROID_DEVICE, "a@b.c")).1, 4);
    // Another app's device of the same id is not blocked.
    assert_eq!(sign_in(&d, &ios_body(ANDROID_DEVICE, "a@b.c")).1, 0);

    let check = "A".repeat(8 * 1024);
    let blocked = d.json(&[
        "block", "--app", IOS, "--device", &check, "--reason", "fraud",
    ]);
    assert_eq!(blocked["blocked"][0]["device"], check.as_str());
    assert_eq!(blocked["sessions"], Value::Array(vec![]));
    let (answer, code) = sign_in(&d, &ios_body(&check, "a@b.c"));
    assert_eq!((code, answer["statusText"].as_str()), (4, Some("fraud")));
    // The table shortens it; --json has it whole.
    let table = d.ok(&["blocked"]);
    assert!(table.contains('…') && !table.contains(&check), "{table}");
    assert_eq!(d.json(&["blocked"])[1]["device"], check.as_str());
    // Longer than a device.id may be: refused, nothing added.
    let too_long = "A".repeat(8 * 1024 + 1);
    let out = d.cli(&["block", "--app", IOS, "--device", &too_long]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        crate::common::stderr(&out)
    );
    assert_eq!(d.json(&["blocked"]).as_array().unwrap().len(), 2);
    // A session without device.id cannot be blocked (delete deletes it).
    let bare = "ffff000000000000000000000000000000000002";
    let mut v = session_json(ANDROID, None, bare, "accepted");
    v["device"].as_object_mut().unwrap().remove("id");
    std::fs::write(d.file(ANDROID, bare), v.to_string()).unwrap();
    d.ok(&["refresh"]);
    let out = d.cli(&["block", bare]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        crate::common::stderr(&out)
    );
    assert!(d.file(ANDROID, bare).exists());
}
