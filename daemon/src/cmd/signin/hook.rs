//! The sign-in hook: a program the administrator names (`hook = [program,
//! args…]`) that decides each sign-in, as a 4D server's `On Mobile App
//! Authentication` method does.
//!
//! It runs without a shell, in a process group of its own, with the request
//! body on its standard input (`password` included: it may check
//! credentials; `session` is the daemon's `{"id","ip","status"}`, see the
//! caller). It must answer one JSON object on its standard output —
//! `{"success":bool,"statusText":string?,"userInfo":object?,"verify":bool?}` —
//! and exit 0 within the timeout. Anything else is a [`HookError`], and the
//! caller refuses the sign-in (fail closed). Its standard error goes to the
//! log, bounded.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
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
    let Output {
        stdout,
        stderr,
        held_open,
    } = output;
    log_stderr(app, &stderr);
    if held_open {
        tracing::warn!(
            app = %app,
            "the hook exited, but a process it started outside its process group (setsid, a daemon) still holds its output open; its answer was read as it stood at its exit"
        );
    }
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
    /// The hook had exited, but something outside its process group still
    /// held a pipe open: what it wrote before exiting was read without
    /// waiting for the pipe's end.
    held_open: bool,
}

/// Feeds `input`, drains both outputs and waits for the exit, all within
/// `timeout`, in one loop that polls the three pipes (non-blocking): a hook
/// that never reads its input, writes more than a pipe holds, or leaves a
/// process holding a pipe open, stalls nothing past the deadline. Once the
/// hook exits, whatever it left running in its process group is killed and,
/// on success, the child reaped; on error it is not reaped (the caller kills
/// its group first, which is safe only while it is unreaped). A process that
/// left the group (`setsid`, a daemonising helper) may keep the pipes open:
/// [`PIPE_GRACE`] after the exit, what the hook wrote is taken as it stands
/// (all of it is in the pipes once the hook has exited).
fn collect(
    child: &mut Child,
    input: &str,
    timeout: Duration,
) -> Result<(ExitStatus, Output), HookError> {
    use std::os::fd::{AsFd, AsRawFd};
    let deadline = Instant::now() + timeout;
    let pid = Pid::from_child(child);
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    for fd in [
        stdin.as_ref().map(|p| p.as_fd()),
        stdout.as_ref().map(|p| p.as_fd()),
        stderr.as_ref().map(|p| p.as_fd()),
    ]
    .into_iter()
    .flatten()
    {
        let flags = rustix::fs::fcntl_getfl(fd).map_err(|e| HookError::Io(e.into()))?;
        rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| HookError::Io(e.into()))?;
    }
    let mut input = input.as_bytes();
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let mut buf = [0u8; 8192];
    // When the hook was seen to have exited.
    let mut exited_at: Option<Instant> = None;
    let mut held_open = false;
    loop {
        if input.is_empty() {
            stdin = None; // all written: the hook sees the end of its input
        }
        if exited_at.is_none() && has_exited(pid).map_err(HookError::Io)? {
            // The hook has answered; what it left running in its group
            // (`sleep 60 &`) would hold the pipes open until the deadline.
            // What it wrote stays in the pipes. Safe: the leader is unreaped.
            let _ = kill_process_group(pid, Signal::KILL);
            exited_at = Some(Instant::now());
        }
        if exited_at.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let now = Instant::now();
        // Answered in time, but an escaped process holds a pipe open.
        if exited_at.is_some_and(|t| now >= (t + PIPE_GRACE).min(deadline)) {
            drain(&mut stdout, &mut out, MAX_ANSWER, &mut buf);
            drain(&mut stderr, &mut err, MAX_STDERR_LOGGED, &mut buf);
            held_open = stdout.is_some() || stderr.is_some();
            break;
        }
        if now >= deadline {
            return Err(HookError::TimedOut(timeout.as_millis()));
        }
        // Short waits: the exit is looked at between them.
        let wait = (deadline - now).min(MAX_PAUSE);
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        let watch = |fd: Option<i32>, events: i16, fds: &mut Vec<libc::pollfd>| {
            if let Some(fd) = fd {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
            }
        };
        watch(
            stdin.as_ref().map(|p| p.as_raw_fd()),
            libc::POLLOUT,
            &mut fds,
        );
        watch(
            stdout.as_ref().map(|p| p.as_raw_fd()),
            libc::POLLIN,
            &mut fds,
        );
        watch(
            stderr.as_ref().map(|p| p.as_raw_fd()),
            libc::POLLIN,
            &mut fds,
        );
        if fds.is_empty() {
            std::thread::sleep(wait);
            continue;
        }
        // SAFETY: `fds` holds `fds.len()` valid entries for the call.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                wait.as_millis() as i32,
            )
        };
        if ready <= 0 {
            continue; // timed out, or interrupted
        }
        if let Some(p) = &mut stdin {
            match p.write(input) {
                Ok(n) => input = &input[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A hook may exit without reading: EPIPE is its business.
                Err(_) => input = &[],
            }
        }
        drain(&mut stdout, &mut out, MAX_ANSWER, &mut buf);
        drain(&mut stderr, &mut err, MAX_STDERR_LOGGED, &mut buf);
    }
    // Whatever the hook left running in its group goes with it.
    let _ = kill_process_group(pid, Signal::KILL);
    let status = child.wait().map_err(HookError::Io)?;
    Ok((
        status,
        Output {
            stdout: out,
            stderr: err,
            held_open,
        },
    ))
}

/// Reads what a non-blocking pipe holds now, keeping the first `limit`
/// bytes; the pipe is dropped at its end (or on an error).
fn drain<R: Read>(pipe: &mut Option<R>, captured: &mut Captured, limit: usize, buf: &mut [u8]) {
    let Some(p) = pipe else { return };
    loop {
        match p.read(buf) {
            Ok(0) => {
                *pipe = None;
                return;
            }
            Ok(n) => {
                let room = limit.saturating_sub(captured.bytes.len());
                captured.overflow |= n > room;
                captured.bytes.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                *pipe = None;
                return;
            }
        }
    }
}

/// The longest pause between two looks at a running hook.
const MAX_PAUSE: Duration = Duration::from_millis(20);
/// How long the pipes of a hook that has exited may stay open: a process
/// of its group is killed at once, so only one that left the group holds
/// them past this.
const PIPE_GRACE: Duration = Duration::from_millis(100);

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
