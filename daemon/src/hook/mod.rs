//! Sign-in hooks as supervised processes: a program the administrator
//! names (`hook = [program, args…]`) that decides each sign-in, as a 4D
//! server's `On Mobile App Authentication` method does. What its answer
//! means is the sign-in's business (`cmd::signin`); running it is this
//! module's:
//!
//! - **bounded**: at most `max_hooks` run at once; a sign-in beyond waits
//!   for a place at most its `hook_timeout_ms`, then is told the server is
//!   busy ([`HookError::Busy`]), said once per burst in the log;
//! - **apart**: hooks are child processes awaited on the runtime, never on
//!   the blocking pool that serves files, pushes and the watcher;
//! - **fenced**: without a shell, in a process group of their own, with a
//!   clean environment ([`env`]), answers and standard error read up to a
//!   limit, killed with their group at their timeout;
//! - **tracked**: the daemon kills every running hook's group when it
//!   stops ([`Hooks::kill_all`]). A process a hook moves out of its group
//!   (`setsid`) is the hook's own responsibility.
//!
//! Anything but an answer in time is a [`HookError`], and the sign-in is
//! refused (fail closed).

mod answer;
pub mod env;
pub mod on_push;
mod process;

use std::ffi::OsString;
use std::io;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_util::sync::CancellationToken;

pub use answer::{parse_answer, Answer};
use process::{Captured, Finished, Registry, Spec};

/// The largest answer read from a hook's standard output.
pub const MAX_ANSWER: usize = 64 * 1024;
/// How much of a hook's standard error reaches the log.
pub const MAX_STDERR_LOGGED: usize = 4 * 1024;
/// How long the hooks running when the daemon starts stopping may go on
/// before they are killed: a hook in time answers its sign-in, and the
/// connections' grace leaves the rest of its time to write and answer.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why a hook gave no usable answer; the message completes "the hook …".
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("is not configured")]
    Missing,
    #[error("found no free place (max_hooks = {max}) within {waited_ms} ms")]
    Busy { max: usize, waited_ms: u128 },
    #[error("was stopped: the daemon is stopping")]
    Stopped,
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

/// One hook to ask.
pub struct Call<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// Its standard input.
    pub input: &'a str,
    /// How long it may run, and how long the call may wait for a place.
    pub timeout: Duration,
    /// The `MOBILE_SESSIOND_*` values of this call.
    pub vars: &'a [(&'a str, OsString)],
    /// The daemon's variables it also gets (`hook_env`).
    pub pass: &'a [String],
    /// Labels the log lines of its standard error.
    pub app: &'a str,
}

/// The daemon's hooks: their places, the running ones, and the stop.
#[derive(Debug)]
pub struct Hooks {
    places: Semaphore,
    max: usize,
    registry: Registry,
    /// The daemon is stopping: no hook starts, waiting calls end.
    stopping: CancellationToken,
    /// Running hooks are killed.
    kill: CancellationToken,
    /// Calls told "busy" since one last found a place at once: the burst.
    refused: AtomicU64,
    base_env: Vec<(OsString, OsString)>,
}

impl Hooks {
    /// At most `max` hooks at once; none starts once `stopping` is cancelled.
    pub fn new(max: usize, stopping: CancellationToken) -> Self {
        let max = max.max(1);
        Self {
            places: Semaphore::new(max),
            max,
            registry: Registry::default(),
            stopping,
            kill: CancellationToken::new(),
            refused: AtomicU64::new(0),
            base_env: env::base(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Hooks running now.
    pub fn running(&self) -> usize {
        self.registry.running()
    }

    /// Runs the hook of `call` when a place is free, and reads its answer.
    pub async fn run(&self, call: Call<'_>) -> Result<Answer, HookError> {
        let (program, args) = call.argv.split_first().ok_or(HookError::Missing)?;
        let _place = self.place(call.timeout).await?;
        let spec = Spec {
            program,
            args,
            env: env::for_call(&self.base_env, call.pass, call.vars),
            input: call.input.as_bytes(),
            timeout: call.timeout,
            limits: (MAX_ANSWER, MAX_STDERR_LOGGED),
        };
        let finished = process::run(spec, &self.registry, &self.kill).await?;
        read(finished, call.app)
    }

    /// A place among the `max` running hooks, waited for at most `wait`.
    async fn place(&self, wait: Duration) -> Result<SemaphorePermit<'_>, HookError> {
        if self.stopping.is_cancelled() {
            return Err(HookError::Stopped);
        }
        if let Ok(place) = self.places.try_acquire() {
            let refused = self.refused.swap(0, Ordering::Relaxed);
            if refused > 0 {
                tracing::info!(
                    "sign-in hooks start at once again: {refused} sign-ins were told the server was busy"
                );
            }
            return Ok(place);
        }
        tokio::select! {
            place = self.places.acquire() => place.map_err(|_| HookError::Stopped),
            () = tokio::time::sleep(wait) => {
                // Said once per burst, not once per sign-in of a flood.
                if self.refused.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "{} sign-in hooks are running, the most allowed (max_hooks), and a sign-in \
                         waited {} ms for one to end: such sign-ins are told the server is busy",
                        self.max,
                        wait.as_millis()
                    );
                }
                Err(HookError::Busy { max: self.max, waited_ms: wait.as_millis() })
            }
            () = self.stopping.cancelled() => Err(HookError::Stopped),
        }
    }

    /// Kills every running hook with its process group, at once; the calls
    /// that ran them end with [`HookError::Stopped`]. Safe from any thread.
    pub fn kill_all(&self) {
        self.kill.cancel();
        let killed = self.registry.kill_all();
        if killed > 0 {
            tracing::info!("killed {killed} sign-in hooks still running");
        }
    }
}

/// The answer in what a hook left, once it exited.
fn read(finished: Finished, app: &str) -> Result<Answer, HookError> {
    let Finished {
        status,
        stdout,
        stderr,
        held_open,
    } = finished;
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
mod tests;
