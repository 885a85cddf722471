//! The runner's tests: each old `run` call goes through [`Hooks::run`] on a
//! runtime of its own; then the places, the stop and the kill.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::*;

/// Asks `argv` as a sign-in does, on a runtime of its own.
fn run(argv: &[String], timeout: Duration, input: &str, app: &str) -> Result<Answer, HookError> {
    runtime().block_on(Hooks::new(4, CancellationToken::new()).run(Call {
        argv,
        input,
        timeout,
        vars: &[],
        pass: &[],
        app,
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const LONG: Duration = Duration::from_secs(30);

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

#[test]
fn reads_the_answer_and_gets_the_body_on_stdin() {
    // `cat` answers with its input: the body arrived whole.
    let body = r#"{"success":true,"statusText":"hi","userInfo":{"n":1},"verify":true,"x":0}"#;
    let a = run(&["cat".to_string()], LONG, body, "app").unwrap();
    assert_eq!(
        a,
        Answer {
            success: true,
            status_text: Some("hi".into()),
            user_info: Some(serde_json::from_str(r#"{"n":1}"#).unwrap()),
            verify: true,
        }
    );
    let refused = run(&sh("echo '{\"success\":false}'"), LONG, "{}", "app").unwrap();
    assert!(!refused.success && !refused.verify && refused.status_text.is_none());
}

#[test]
fn a_hook_that_does_not_read_a_large_body_still_answers() {
    let body = format!("{{\"p\":\"{}\"}}", "x".repeat(60 * 1024));
    let a = run(&sh("echo '{\"success\":true}'"), LONG, &body, "app").unwrap();
    assert!(a.success);
}

#[test]
fn failures() {
    let exit = run(
        &sh("cat >/dev/null; echo '{\"success\":true}'; exit 1"),
        LONG,
        "{}",
        "a",
    );
    assert!(
        matches!(exit, Err(HookError::Failed(s)) if s.code() == Some(1)),
        "{exit:?}"
    );
    let signal = run(&sh("kill -9 $$"), LONG, "{}", "a");
    assert!(matches!(signal, Err(HookError::Failed(_))), "{signal:?}");
    let garbage = run(&sh("echo 'yes, sure'"), LONG, "{}", "a");
    assert!(matches!(garbage, Err(HookError::Answer(_))), "{garbage:?}");
    let big = run(&sh("head -c 70000 /dev/zero"), LONG, "{}", "a");
    assert!(matches!(big, Err(HookError::TooLarge)), "{big:?}");
    let missing = run(&["/no/such/hook".to_string()], LONG, "{}", "a");
    assert!(
        matches!(missing, Err(HookError::Start { .. })),
        "{missing:?}"
    );
    assert!(matches!(run(&[], LONG, "{}", "a"), Err(HookError::Missing)));
}

#[test]
fn a_timeout_kills_the_hook_and_its_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    // A run where the shell had not even started `sleep` when the time
    // was up (a loaded or frozen machine) proves nothing: try longer.
    for ms in [300u64, 2_000, 10_000] {
        let r = run(&sh(&script), Duration::from_millis(ms), "{}", "a");
        assert!(
            matches!(r, Err(HookError::TimedOut(t)) if t == ms as u128),
            "{r:?}"
        );
        if std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n')) {
            // The background `sleep` was in the hook's group: it dies too.
            wait_gone(pid_in(&pidfile));
            return;
        }
    }
    panic!("the hook never started its background process");
}

/// The pid a hook's script wrote.
fn pid_in(file: &std::path::Path) -> i32 {
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn wait_gone(pid: i32) {
    let start = Instant::now();
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid) {
        assert!(start.elapsed() < LONG, "process {pid} survived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn what_a_hook_leaves_behind_goes_with_it() {
    // Answered and exited, but a process of its group runs on.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!(
        "sleep 60 >/dev/null 2>&1 & echo $! > {}; echo '{{\"success\":true}}'",
        pidfile.display()
    );
    assert!(run(&sh(&script), LONG, "{}", "a").unwrap().success);
    wait_gone(pid_in(&pidfile));
}

#[test]
fn a_process_of_its_group_holding_the_output_does_not_hold_the_answer() {
    // `sleep` inherits the hook's standard output and runs on.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!(
        "sleep 60 & echo $! > {}; echo '{{\"success\":true}}'",
        pidfile.display()
    );
    let answer = run(&sh(&script), LONG, "{}", "a").unwrap();
    assert!(answer.success);
    wait_gone(pid_in(&pidfile));
}

#[test]
fn a_process_that_escaped_the_group_with_the_output_open_does_not_hold_the_answer() {
    // setsid: out of the hook's group, and holding its standard output.
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // The hook answers only once the other process has left its group
    // (it writes its pid after `setsid`), or the group kill at the
    // hook's exit could catch it still inside.
    let script = format!(
        "setsid sh -c 'echo $$ > {p}; exec sleep 60' & while [ ! -s {p} ]; do :; done; echo '{{\"success\":true,\"statusText\":\"in\"}}'",
        p = pidfile.display()
    );
    // Answered, not timed out, however long the timeout.
    let answer = run(&sh(&script), LONG, "{}", "a").unwrap();
    assert!(answer.success);
    assert_eq!(answer.status_text.as_deref(), Some("in"));
    // Not ours to leave running.
    if let Ok(pid) = std::fs::read_to_string(&pidfile)
        .unwrap_or_default()
        .trim()
        .parse::<i32>()
    {
        // SAFETY: a plain kill of the process the script started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// A call of `hooks` with no variables of its own.
fn call<'a>(argv: &'a [String], timeout: Duration) -> Call<'a> {
    Call {
        argv,
        input: "{}",
        timeout,
        vars: &[],
        pass: &[],
        app: "a",
    }
}

/// Waits until `cond` holds, under the long deadline.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LONG, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_call_beyond_max_hooks_waits_for_a_place_then_is_told_busy() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    // Answers once the test lets it.
    let slow = sh(&format!(
        "while [ ! -e {} ]; do sleep 0.01; done; echo '{{\"success\":true}}'",
        go.display()
    ));
    let hooks = Hooks::new(1, CancellationToken::new());
    let first = hooks.run(call(&slow, LONG));
    let later = async {
        until("the first hook runs", || hooks.running() == 1).await;
        // No place within its wait: busy, and nothing started.
        let quick = sh("echo '{\"success\":true}'");
        let busy = hooks.run(call(&quick, Duration::from_millis(50))).await;
        assert!(
            matches!(busy, Err(HookError::Busy { max: 1, .. })),
            "{busy:?}"
        );
        // One that may wait long enough gets the place once it is free.
        let waiting = hooks.run(call(&quick, LONG));
        let release = async {
            std::fs::write(&go, "").unwrap();
        };
        let (answer, ()) = tokio::join!(waiting, release);
        answer
    };
    let (first, later) = tokio::join!(first, later);
    assert!(first.unwrap().success);
    assert!(later.unwrap().success);
    assert_eq!(hooks.running(), 0);
}

#[tokio::test]
async fn kill_all_kills_the_running_hooks_with_their_groups() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = sh(&format!("sleep 60 & echo $! > {}; wait", pidfile.display()));
    let hooks = Hooks::new(4, CancellationToken::new());
    let running = hooks.run(call(&script, LONG));
    let stop = async {
        until("the hook started its child", || {
            std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
        })
        .await;
        hooks.kill_all();
    };
    let (r, ()) = tokio::join!(running, stop);
    assert!(matches!(r, Err(HookError::Stopped)), "{r:?}");
    wait_gone(pid_in(&pidfile));
    assert_eq!(hooks.running(), 0);
}

#[tokio::test]
async fn once_the_daemon_stops_no_hook_starts_and_waiting_calls_end() {
    let stopping = CancellationToken::new();
    let hooks = Hooks::new(1, stopping.clone());
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let slow = sh(&format!("touch {}; sleep 60", started.display()));
    let quick = sh("echo '{\"success\":true}'");
    let first = hooks.run(call(&slow, LONG));
    let then = async {
        until("the first hook runs", || started.exists()).await;
        let waiting = hooks.run(call(&quick, LONG));
        let stop = async {
            stopping.cancel();
            hooks.kill_all();
        };
        let (waited, ()) = tokio::join!(waiting, stop);
        waited
    };
    let (first, waited) = tokio::join!(first, then);
    assert!(matches!(first, Err(HookError::Stopped)), "{first:?}");
    assert!(matches!(waited, Err(HookError::Stopped)), "{waited:?}");
    let after = hooks.run(call(&quick, LONG)).await;
    assert!(matches!(after, Err(HookError::Stopped)), "{after:?}");
}

#[tokio::test]
async fn a_hook_sees_only_its_clean_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("env");
    let script = sh(&format!(
        "env > {}; echo '{{\"success\":true}}'",
        dump.display()
    ));
    let hooks = Hooks::new(1, CancellationToken::new());
    let vars = [("MOBILE_SESSIOND_APP", OsString::from("com.a"))];
    let pass = ["PATH".to_string()];
    let answer = hooks
        .run(Call {
            vars: &vars,
            pass: &pass,
            ..call(&script, LONG)
        })
        .await;
    assert!(answer.unwrap().success);
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        env.lines().any(|l| l == "MOBILE_SESSIOND_APP=com.a"),
        "{env}"
    );
    assert!(env.lines().any(|l| l.starts_with("HOME=")), "{env}");
    // The test runner's own variables (cargo sets many) stay out.
    assert!(!env.contains("CARGO"), "{env}");
}
