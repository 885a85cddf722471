//! One hook process, supervised on the runtime: started without a shell in
//! a process group of its own, fed its input, its two outputs read up to
//! their limits, watched until it exits or its time is up.
//!
//! Its group is killed before the hook is reaped, never after: until then
//! the leader's pid (the group's id) cannot be reused, so the kill cannot
//! reach a stranger's group. Tokio would reap it as soon as its exit is
//! awaited, so the exit is watched without reaping (`waitid` with
//! `WNOWAIT`, looked at on each SIGCHLD).

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use rustix::process::{kill_process_group, waitid, Pid, Signal, WaitId, WaitIdOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::HookError;

/// How long the pipes of a hook that has exited may stay open: a process
/// of its group is killed at once, so only one that left the group holds
/// them past this.
const PIPE_GRACE: Duration = Duration::from_millis(100);
/// The longest pause between two looks at a running hook when no SIGCHLD
/// comes (one blocked by whoever started the daemon).
const LOOK_AGAIN: Duration = Duration::from_millis(100);
/// How long a killed hook may take to be reaped before it is left to the
/// runtime's orphan reaper (one stuck in the kernel, on a dead NFS mount).
const REAP_WAIT: Duration = Duration::from_secs(1);

/// What to run.
pub struct Spec<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    /// The whole environment (nothing is inherited).
    pub env: Vec<(OsString, OsString)>,
    pub input: &'a [u8],
    pub timeout: Duration,
    /// How much of the standard output and error is kept.
    pub limits: (usize, usize),
}

/// What a stream gave, up to its limit.
#[derive(Debug, Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// More came than the limit; the rest was read and dropped.
    pub overflow: bool,
}

impl Captured {
    fn take(&mut self, chunk: &[u8], limit: usize) {
        let room = limit.saturating_sub(self.bytes.len());
        self.overflow |= chunk.len() > room;
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

/// A hook that exited.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Captured,
    pub stderr: Captured,
    /// The hook had exited, but something outside its process group still
    /// held a pipe open: what it wrote before exiting was taken without
    /// waiting for the pipe's end.
    pub held_open: bool,
}

/// The process groups of the hooks running now, each until its leader is
/// reaped: what the daemon kills when it stops.
#[derive(Debug, Default)]
pub struct Registry {
    groups: Mutex<HashSet<i32>>,
}

impl Registry {
    fn groups(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kills every running hook's group; returns how many there were.
    pub fn kill_all(&self) -> usize {
        let groups = self.groups();
        for &raw in groups.iter() {
            if let Some(pid) = Pid::from_raw(raw) {
                let _ = kill_process_group(pid, Signal::KILL);
            }
        }
        groups.len()
    }

    pub fn running(&self) -> usize {
        self.groups().len()
    }
}

/// One hook's place in the [`Registry`], from its start until it is about
/// to be reaped. Dropped before that (the sign-in was abandoned, the
/// runtime is going away), it kills the hook's group.
struct Tracked<'a> {
    registry: &'a Registry,
    pid: Pid,
}

impl<'a> Tracked<'a> {
    fn new(registry: &'a Registry, pid: Pid) -> Self {
        registry.groups().insert(pid.as_raw_nonzero().get());
        Self { registry, pid }
    }

    /// Safe while the leader is unreaped, which `Tracked` lives for.
    fn kill_group(&self) {
        let _ = kill_process_group(self.pid, Signal::KILL);
    }

    /// Leaves the registry (then the drop kills nothing): the hook is
    /// reaped next.
    fn release(self) {
        self.registry
            .groups()
            .remove(&self.pid.as_raw_nonzero().get());
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        let mut groups = self.registry.groups();
        if groups.remove(&self.pid.as_raw_nonzero().get()) {
            let _ = kill_process_group(self.pid, Signal::KILL);
        }
    }
}

/// Runs one hook to its end: its exit, its timeout (the group is killed),
/// or `kill` (the daemon is stopping; the group is killed). Once the hook
/// exits, whatever it left running in its process group is killed too.
pub async fn run(
    spec: Spec<'_>,
    registry: &Registry,
    kill: &CancellationToken,
) -> Result<Finished, HookError> {
    let mut child = Command::new(spec.program)
        .args(spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a timeout kills whatever it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HookError::Start {
            program: spec.program.to_string(),
            source,
        })?;
    let Some(pid) = child.id().and_then(|id| Pid::from_raw(id as i32)) else {
        return Err(HookError::Io(io::Error::other("the hook has no pid")));
    };
    // Declared after `child`, so dropped before it.
    let tracked = Tracked::new(registry, pid);
    let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (mut stdout, mut stderr) = (Captured::default(), Captured::default());
    let ended = watch(pid, pipes, &spec, (&mut stdout, &mut stderr), kill).await;
    // What it left running in its group goes with it.
    tracked.kill_group();
    let held_open = match ended {
        Ok(held_open) => held_open,
        Err(e) => {
            // The leader may have left its group.
            let _ = child.start_kill();
            tracked.release();
            let _ = tokio::time::timeout(REAP_WAIT, child.wait()).await;
            return Err(e);
        }
    };
    tracked.release();
    let status = child.wait().await.map_err(HookError::Io)?;
    Ok(Finished {
        status,
        stdout,
        stderr,
        held_open,
    })
}

type Pipes = (
    Option<ChildStdin>,
    Option<tokio::process::ChildStdout>,
    Option<tokio::process::ChildStderr>,
);

/// Feeds the input and drains both outputs until the hook has exited and
/// its pipes are closed, within the timeout. A hook that never reads its
/// input, writes more than a pipe holds, or leaves a process holding a
/// pipe open stalls nothing past the deadline. A process that left the
/// group (`setsid`, a daemonising helper) may keep the pipes open:
/// [`PIPE_GRACE`] after the exit, what the hook wrote is taken as it stands
/// (all of it is in the pipes once the hook has exited). `Ok(true)` then.
async fn watch(
    pid: Pid,
    (stdin, stdout, stderr): Pipes,
    spec: &Spec<'_>,
    (out, err): (&mut Captured, &mut Captured),
    kill: &CancellationToken,
) -> Result<bool, HookError> {
    let deadline = Instant::now() + spec.timeout;
    let pipes = async {
        tokio::join!(
            feed(stdin, spec.input),
            capture(stdout, out, spec.limits.0),
            capture(stderr, err, spec.limits.1),
        )
    };
    tokio::pin!(pipes);
    let exit = exited(pid);
    tokio::pin!(exit);
    let mut drained = false;
    // When the hook was seen to have exited.
    let mut exited_at: Option<Instant> = None;
    loop {
        let until = exited_at.map_or(deadline, |t| (t + PIPE_GRACE).min(deadline));
        tokio::select! {
            // A kill at the daemon's stop comes before the exit it causes.
            biased;
            _ = kill.cancelled(), if exited_at.is_none() => return Err(HookError::Stopped),
            _ = &mut pipes, if !drained => drained = true,
            seen = &mut exit, if exited_at.is_none() => {
                seen.map_err(HookError::Io)?;
                // Answered: what it left running in its group (`sleep 60 &`)
                // would hold the pipes open until the deadline. What it
                // wrote stays in the pipes. Safe: the leader is unreaped.
                let _ = kill_process_group(pid, Signal::KILL);
                exited_at = Some(Instant::now());
            }
            _ = tokio::time::sleep_until(until) => {
                return match exited_at {
                    // Answered in time, but an escaped process holds a pipe open.
                    Some(_) => Ok(true),
                    None => Err(HookError::TimedOut(spec.timeout.as_millis())),
                };
            }
        }
        if drained && exited_at.is_some() {
            return Ok(false);
        }
    }
}

/// Writes `input`, then closes the pipe: the hook sees the end of its input.
async fn feed(stdin: Option<ChildStdin>, input: &[u8]) {
    if let Some(mut pipe) = stdin {
        // A hook may exit without reading: EPIPE is its business.
        let _ = pipe.write_all(input).await;
    }
}

/// Reads a pipe to its end, keeping the first `limit` bytes.
async fn capture(pipe: Option<impl AsyncRead + Unpin>, into: &mut Captured, limit: usize) {
    let Some(mut pipe) = pipe else { return };
    // On the heap: this future lives in every waiting sign-in's.
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => into.take(&buf[..n], limit),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Resolves once the hook has exited, without reaping it.
async fn exited(pid: Pid) -> io::Result<()> {
    // Listening before the first look: an exit after it raises a SIGCHLD
    // that reaches this listener.
    let mut sigchld = signal(SignalKind::child())?;
    loop {
        if has_exited(pid)? {
            return Ok(());
        }
        let _ = tokio::time::timeout(LOOK_AGAIN, sigchld.recv()).await;
    }
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
