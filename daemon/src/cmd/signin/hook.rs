//! The sign-in hook: a program the administrator names (`hook = [program,
//! args…]`) that decides each sign-in, as a 4D server's `On Mobile App
//! Authentication` method does.
//!
//! It runs without a shell, in a process group of its own, with the request
//! body on its standard input (`password` included: it may check
//! credentials). It must answer one JSON object on its standard output —
//! `{"success":bool,"statusText":string?,"userInfo":object?,"verify":bool?}` —
//! and exit 0 within the timeout. Anything else is a [`HookError`], and the
//! caller refuses the sign-in (fail closed). Its standard error goes to the
//! log, bounded.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, waitid, Pid, Signal, WaitId, WaitIdOptions};
use serde_json::{Map, Value};

/// The largest answer read from a hook's standard output.
pub const MAX_ANSWER: usize = 64 * 1024;
/// How much of a hook's standard error reaches the log.
pub const MAX_STDERR_LOGGED: usize = 4 * 1024;

/// What a hook answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub success: bool,
    pub status_text: Option<String>,
    pub user_info: Option<Map<String, Value>>,
    /// New sessions start pending.
    pub verify: bool,
}

/// Why a hook gave no usable answer; the message completes "the hook …".
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("is not configured")]
    Missing,
    #[error("could not be started ({program}): {source}")]
    Start { program: String, source: io::Error },
    #[error("failed ({0})")]
    Failed(ExitStatus),
    #[error("gave no answer within {0} ms and was killed")]
    TimedOut(u128),
    #[error("wrote more than {MAX_ANSWER} bytes on its standard output")]
    TooLarge,
    #[error("answered {0}")]
    Answer(String),
    #[error("could not be run: {0}")]
    Io(io::Error),
}

/// Runs `argv` with `input` on its standard input and reads its answer.
/// `app` only labels the log lines of its standard error.
pub fn run(
    argv: &[String],
    timeout: Duration,
    input: &str,
    app: &str,
) -> Result<Answer, HookError> {
    let (program, args) = argv.split_first().ok_or(HookError::Missing)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The service manager's socket is for the daemon's own messages.
        .env_remove("NOTIFY_SOCKET")
        // Its own group: a timeout kills whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(|source| HookError::Start {
            program: program.clone(),
            source,
        })?;
    let (status, output) = match collect(&mut child, input, timeout) {
        Ok(done) => done,
        Err(e) => {
            kill(&mut child);
            return Err(e);
        }
    };
    let Output { stdout, stderr } = output;
    log_stderr(app, &stderr);
    if !status.success() {
        return Err(HookError::Failed(status));
    }
    if stdout.overflow {
        return Err(HookError::TooLarge);
    }
    parse_answer(&stdout.bytes)
}

/// Reads a hook's answer: one JSON object with a boolean `success`, and
/// `statusText` (a string), `userInfo` (an object) and `verify` (a
/// boolean) when present and not null. Other members are ignored.
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, HookError> {
    let bad = |what: &str| HookError::Answer(what.to_string());
    let text = std::str::from_utf8(bytes).map_err(|_| bad("bytes that are not UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| HookError::Answer(format!("something that is not one JSON object ({e})")))?;
    let Value::Object(mut m) = value else {
        return Err(bad("JSON that is not an object"));
    };
    let success = match m.get("success") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(bad("an object without a boolean \"success\"")),
    };
    let status_text = match m.remove("statusText") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("a \"statusText\" that is not a string")),
    };
    let user_info = match m.remove("userInfo") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => return Err(bad("a \"userInfo\" that is not an object")),
    };
    let verify = match m.get("verify") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("a \"verify\" that is not a boolean")),
    };
    Ok(Answer {
        success,
        status_text,
        user_info,
        verify,
    })
}

/// What a stream gave, up to its limit.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    /// More came than the limit; the rest was read and dropped.
    overflow: bool,
}

struct Output {
    stdout: Captured,
    stderr: Captured,
}

enum Stream {
    Out(Captured),
    Err(Captured),
}

/// Feeds `input`, drains both outputs and waits for the exit, all within
/// `timeout`. On success the child is reaped; on error it is not (the
/// caller kills its group first, which is safe only while it is unreaped).
fn collect(
    child: &mut Child,
    input: &str,
    timeout: Duration,
) -> Result<(ExitStatus, Output), HookError> {
    let deadline = Instant::now() + timeout;
    let pid = Pid::from_child(child);
    let (tx, rx) = mpsc::channel();
    // Threads: a hook that never reads its input, or writes more than a
    // pipe holds before reading, must not stall us or itself.
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_string();
        spawn("hook-stdin", move || {
            // A hook may exit without reading: EPIPE is its business.
            let _ = stdin.write_all(input.as_bytes());
        })?;
    }
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        spawn("hook-stdout", move || {
            let _ = tx.send(Stream::Out(capture(out, MAX_ANSWER)));
        })?;
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        spawn("hook-stderr", move || {
            let _ = tx.send(Stream::Err(capture(err, MAX_STDERR_LOGGED)));
        })?;
    }
    drop(tx);
    let (mut stdout, mut stderr) = (None, None);
    let mut exited = false;
    let mut pause = Duration::from_millis(1);
    loop {
        if !exited {
            exited = has_exited(pid).map_err(HookError::Io)?;
        }
        if exited && stdout.is_some() && stderr.is_some() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(HookError::TimedOut(timeout.as_millis()));
        }
        match rx.recv_timeout(pause.min(deadline - now)) {
            Ok(Stream::Out(c)) => stdout = Some(c),
            Ok(Stream::Err(c)) => stderr = Some(c),
            Err(mpsc::RecvTimeoutError::Timeout) => pause = (pause * 2).min(MAX_PAUSE),
            // Both outputs are closed; only the exit is awaited.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
    let status = child.wait().map_err(HookError::Io)?;
    Ok((
        status,
        Output {
            stdout: stdout.unwrap_or_default(),
            stderr: stderr.unwrap_or_default(),
        },
    ))
}

/// The longest pause between two looks at a running hook.
const MAX_PAUSE: Duration = Duration::from_millis(20);

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), HookError> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map(drop)
        .map_err(HookError::Io)
}

/// Reads `r` to its end, keeping the first `limit` bytes.
fn capture(mut r: impl Read, limit: usize) -> Captured {
    let mut c = Captured::default();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = limit.saturating_sub(c.bytes.len());
                c.overflow |= n > room;
                c.bytes.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    c
}

/// Whether the child has exited, without reaping it: its pid (and so its
/// process group id) stays ours until `wait`, so a kill cannot hit a
/// stranger that reused the number.
fn has_exited(pid: Pid) -> io::Result<bool> {
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match waitid(WaitId::Pid(pid), opts) {
        Ok(status) => Ok(status.is_some()),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Kills the hook and its process group, then reaps it.
fn kill(child: &mut Child) {
    let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
    // The leader may have left the group.
    let _ = child.kill();
    let _ = child.wait();
}

fn log_stderr(app: &str, err: &Captured) {
    let text = String::from_utf8_lossy(&err.bytes);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    // Escaped: a hook's output must not forge log lines or send escapes.
    let more = if err.overflow { " […]" } else { "" };
    tracing::info!(app = %app, "hook stderr: {}{more}", text.escape_debug());
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = run(&sh(&script), Duration::from_millis(300), "{}", "a");
        assert!(matches!(r, Err(HookError::TimedOut(300))), "{r:?}");
        // The background `sleep` was in the hook's group: it dies too.
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let start = Instant::now();
        loop {
            // SAFETY: signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(pid, 0) } == 0 && !is_zombie(pid);
            if !alive {
                break;
            }
            assert!(start.elapsed() < LONG, "the hook's child survived");
            std::thread::sleep(Duration::from_millis(10));
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

    #[test]
    fn answers_that_are_not_the_shape() {
        for bad in [
            "",
            "[]",
            "{}",
            "{\"success\":\"yes\"}",
            "{\"success\":true,\"statusText\":1}",
            "{\"success\":true,\"userInfo\":[1]}",
            "{\"success\":true,\"verify\":\"no\"}",
            "{\"success\":true} {\"success\":true}",
            "\u{feff}{\"success\":true}",
        ] {
            assert!(parse_answer(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_answer(b"\xff").is_err());
        let ok =
            parse_answer(b" {\"success\":true,\"statusText\":null,\"userInfo\":null}\n").unwrap();
        assert!(ok.success && ok.user_info.is_none() && ok.status_text.is_none());
    }
}
