//! `push --dry-run` (what the next push reports, nothing changed) and
//! `on_push` (run after a push that changed the live view, the report on
//! its standard input; its failures never fail the push).

use serde_json::Value;

use crate::common::{
    session_json, wait_until, Daemon, Opts, ANDROID, ANDROID_ID, IOS, SEED_ID, SEED_TOKEN,
};

const NEW: &str = "cccc000000000000000000000000000000000001";
const BROKEN: &str = "cccc000000000000000000000000000000000002";

/// Writes `text` to a session path by renaming a whole file into place.
fn replace(d: &Daemon, app: &str, id: &str, text: &str) {
    let tmp = d.dir.path().join(format!(".{id}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, d.file(app, id)).unwrap();
}

/// A change of every kind, seen by the watcher: a status edited by hand, a
/// file deleted, a new session, an invalid file.
fn change_every_kind(d: &Daemon) {
    let seed = std::fs::read_to_string(d.file(IOS, SEED_ID)).unwrap();
    replace(
        d,
        IOS,
        SEED_ID,
        &seed.replace("\"accepted\"", "\"pending\""),
    );
    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    let new = session_json(ANDROID, None, NEW, "accepted");
    replace(d, ANDROID, NEW, &new.to_string());
    replace(d, IOS, BROKEN, "{\"not\": \"a session\"");
    wait_until("the watcher sees the four", || {
        let rows = d.json(&["sessions"]);
        let marked = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["unpushed"].is_null());
        marked.count() == 3 && d.json(&["status"])["invalid"] == 1
    });
}

#[test]
fn a_dry_run_is_what_the_next_push_reports_and_changes_nothing() {
    let d = Daemon::start();
    change_every_kind(&d);
    let live = d.json(&["status"])["live"].clone();
    let preview = d.json(&["push", "--dry-run"]);
    assert_eq!(
        (
            &preview["added"],
            &preview["updated"],
            &preview["removed"],
            &preview["unchanged"]
        ),
        (&1.into(), &1.into(), &1.into(), &1.into()),
        "{preview}"
    );
    assert_eq!(preview["invalid"][0]["code"], 2, "{preview}");
    assert_eq!(d.json(&["push", "--dry-run", "--full"]), preview);
    assert!(d
        .ok(&["push", "--dry-run"])
        .starts_with("would push: 1 added, 1 updated"));
    // Nothing changed: the live view still has the old status and the
    // deleted session, and the marks stay.
    assert_eq!(d.json(&["status"])["live"], live);
    assert_eq!(d.ok(&["verify", SEED_TOKEN]).trim(), "accepted");
    assert_eq!(d.unpushed(ANDROID_ID), Some("deleted".into()));
    assert_eq!(d.json(&["push"]), preview, "the next push reports the same");
    let after = d.json(&["push", "--dry-run"]);
    assert_eq!(
        (&after["added"], &after["updated"], &after["removed"]),
        (&0.into(), &0.into(), &0.into())
    );
    assert_eq!(after["unchanged"], 3);
    assert_eq!(
        after["invalid"], preview["invalid"],
        "an invalid file is reported each time"
    );
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Puts `on_push` (and maybe its timeout) in force with a reload.
fn reload_on_push(d: &Daemon, argv: &[&str], extra: &str) {
    let before = d.log_text().matches("configuration read again").count();
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    let config = format!("on_push = [{}]\n{extra}", argv.join(", "));
    std::fs::write(d.dir.path().join("config.toml"), config).unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the reload is done", || {
        d.log_text().matches("configuration read again").count() > before
    });
}

#[test]
fn on_push_reads_the_report_and_never_fails_the_push() {
    let mut d = Daemon::prepare(&Opts::default());
    let out = d.dir.path().join("reports");
    let env = d.dir.path().join("env");
    // The environment first: once the report is there, so is it.
    let script = format!(
        "echo \"$MOBILE_SESSIOND_DATA_DIR|$HOME|$RUST_LOG\" > {1}; cat >> {0}; echo >> {0}",
        out.display(),
        env.display()
    );
    std::fs::write(
        d.dir.path().join("config.toml"),
        format!("on_push = [\"/bin/sh\", \"-c\", {script:?}]\n"),
    )
    .unwrap();
    d.spawn(&Opts::default());
    // Nothing changed: not run (runs are in order, so the next one would
    // come after it).
    d.ok(&["push"]);
    d.ok(&["set-status", "pending", SEED_ID]);
    let report = d.json(&["push"]);
    wait_until("on_push ran", || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.ends_with('\n'))
    });
    let got = lines(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    let told: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(told, report);
    assert_eq!(told["updated"], 1);
    // A clean environment, with the data dir; not the daemon's RUST_LOG.
    let env = std::fs::read_to_string(&env).unwrap();
    let data = d.data.canonicalize().unwrap();
    assert!(env.starts_with(&format!("{}|", data.display())), "{env}");
    assert!(env.trim_end().ends_with('|'), "{env}");

    // A failing on_push: the push succeeds, the log says why.
    reload_on_push(&d, &["/bin/sh", "-c", "echo oops >&2; exit 3"], "");
    d.ok(&["set-status", "accepted", SEED_ID]);
    let pushed = d.cli(&["--json", "push"]);
    assert!(pushed.status.success());
    wait_until("the failure is logged", || {
        d.log_text().contains("on_push failed (exit status: 3)")
    });
    assert!(d.log_text().contains("oops"));

    // One that hangs is killed at its timeout; pushes go on meanwhile.
    reload_on_push(&d, &["/bin/sleep", "60"], "on_push_timeout_ms = 300\n");
    d.ok(&["set-status", "pending", SEED_ID, "--push"]);
    d.ok(&["set-status", "accepted", SEED_ID, "--push"]);
    wait_until("the timeout is logged", || {
        d.log_text().contains("on_push did not end within 300 ms")
    });
    // A program that does not exist: logged too.
    reload_on_push(&d, &["/nonexistent/refresh-4d"], "");
    d.ok(&["set-status", "pending", SEED_ID, "--push"]);
    wait_until("the missing program is logged", || {
        d.log_text()
            .contains("on_push could not be started (/nonexistent/refresh-4d)")
    });
}
