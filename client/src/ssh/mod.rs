//! [`SshConnector`]: a daemon on another host, through the `ssh` client.
//!
//! Each stream is `ssh HOST mobile-session dial-stdio`: the remote side
//! connects to the daemon there as a local client would (the per-user
//! socket, then the system one, or the path in the address) and copies
//! bytes both ways, so the daemon sees the remote user's credentials and
//! decides their role; no listener is opened anywhere. Where the remote
//! side has no `mobile-session` (the shell says "not found"), ssh's own
//! Unix-socket forwarding (`-L LOCAL:REMOTE`, streamlocal) reaches the
//! daemon's socket instead, which needs nothing there but sshd.
//!
//! Streams share one ssh connection (`ControlMaster`) kept in a private
//! folder: one login per connector, however many streams the pool and
//! `watch` open.

mod args;
pub mod greeting;
mod master;
mod stream;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

pub use args::{split_command_line, InvalidSshCommand, SSH_COMMAND_ENV};
use master::{Master, Workspace};
pub(crate) use stream::ForwardRefused;
use stream::{remote_error, ForwardStream, PipeStream};

use crate::connector::BoxFuture;
use crate::{ClientError, Connected, Connector, RemoteFailure, SshAddress};

/// Where a daemon's socket is when the address names none and the remote
/// side cannot look for it: the system service's (`/var/run` is `/run` on
/// Linux, and exists on macOS).
pub const DEFAULT_REMOTE_SOCKET: &str = "/var/run/mobile-sessiond/mobile-sessiond.sock";

/// Reaches the daemon on another host through the `ssh` program: each
/// stream runs `mobile-session dial-stdio` over there (or, without it,
/// goes through ssh's forwarding of the daemon's socket), and the streams
/// of one connector share one ssh login.
pub struct SshConnector {
    invocation: Arc<Invocation>,
    share: bool,
    batch: bool,
    /// A login has succeeded: later ones (a new shared connection after
    /// the host came back) never prompt, as nobody may be there to answer.
    logged_in: AtomicBool,
    state: tokio::sync::Mutex<State>,
}

/// How ssh is run.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub program: OsString,
    pub words: Vec<String>,
    pub address: SshAddress,
    pub remote_program: String,
}

#[derive(Default)]
struct State {
    workspace: Option<Arc<Workspace>>,
    master: Option<Arc<Master>>,
    masters: u32,
    /// The remote side has no `mobile-session`: what it said.
    no_program: Option<String>,
}

impl SshConnector {
    /// `ssh` with its usual configuration (`~/.ssh/config`, the agent),
    /// sharing one connection between streams.
    pub fn new(address: SshAddress) -> Self {
        Self {
            invocation: Arc::new(Invocation {
                program: "ssh".into(),
                words: Vec::new(),
                address,
                remote_program: "mobile-session".into(),
            }),
            share: true,
            batch: false,
            logged_in: AtomicBool::new(false),
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// [`SshConnector::new`] with `$MOBILE_SESSION_SSH_COMMAND` in place of
    /// `ssh` when it is set and not empty.
    pub fn from_env(address: SshAddress) -> Result<Self, InvalidSshCommand> {
        match std::env::var(SSH_COMMAND_ENV) {
            Ok(line) if !line.trim().is_empty() => Self::new(address).command_line(&line),
            _ => Ok(Self::new(address)),
        }
    }

    /// Runs this command line instead of `ssh` (split by
    /// [`split_command_line`]). It must take OpenSSH's options: the
    /// connector adds `-T`, `-o NAME=VALUE`, `-p`, `-l`, `-N`, `-O` and `--`.
    /// When its words set up connection sharing themselves (`-S`,
    /// `ControlPath`…), the connector shares nothing of its own.
    pub fn command_line(mut self, line: &str) -> Result<Self, InvalidSshCommand> {
        let mut words = split_command_line(line)?;
        let program = words.remove(0);
        self.share = !args::manages_sharing(&words);
        let inv = Arc::make_mut(&mut self.invocation);
        inv.program = program.into();
        inv.words = words;
        Ok(self)
    }

    /// Never lets ssh ask anything (`BatchMode`): for callers with nobody
    /// at a terminal. Without it, only the first login may ask.
    pub fn batch_mode(mut self, batch: bool) -> Self {
        self.batch = batch;
        self
    }

    /// Whether streams share one ssh connection (default: yes, unless the
    /// command sets up its own sharing). Without it, each stream logs in.
    pub fn share_connection(mut self, share: bool) -> Self {
        self.share = share;
        self
    }

    /// The program run on the other host (default `mobile-session`), as
    /// the remote user's shell reads it (a path with blanks needs quotes).
    pub fn remote_program(mut self, program: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.invocation).remote_program = program.into();
        self
    }

    pub fn address(&self) -> &SshAddress {
        &self.invocation.address
    }

    fn host(&self) -> String {
        self.invocation.address.host_label()
    }

    fn batch_now(&self) -> bool {
        self.batch || self.logged_in.load(Ordering::Relaxed)
    }

    /// The shared connection, started (logged in) when there is none that
    /// answers.
    async fn ensure_master(&self) -> Result<(), ClientError> {
        let mut st = self.state.lock().await;
        if st.master.as_ref().is_some_and(|m| m.alive()) {
            return Ok(());
        }
        // A master that died keeps its own control path: streams still
        // holding it must never stop the new one.
        st.master = None;
        let workspace = match &st.workspace {
            Some(w) => w.clone(),
            None => st.workspace.insert(Workspace::create()?).clone(),
        };
        st.masters += 1;
        let Some(control) = workspace.control_path(st.masters) else {
            return Ok(()); // the temp dir's path is too long: no sharing
        };
        let batch = self.batch_now();
        let master = Master::start(self.invocation.clone(), workspace, control, batch).await?;
        self.logged_in.store(true, Ordering::Relaxed);
        st.master = Some(master);
        Ok(())
    }

    /// `ssh HOST mobile-session dial-stdio`, up to the remote side's first
    /// line; `Ok(Err(what it said))` when the remote side has no such
    /// program (not found, or too old to know `dial-stdio`).
    async fn dial(
        &self,
        master: Option<Arc<Master>>,
    ) -> Result<Result<Connected, String>, ClientError> {
        let inv = &self.invocation;
        let workspace = self.workspace().await?;
        let batch = self.batch_now();
        let mut cmd = inv.base(batch);
        if let Some(m) = &master {
            cmd.args(m.client_options());
        }
        // An ssh that cannot ask anything stays out of the terminal's
        // process group: Ctrl-C reaches this program, which closes its
        // streams, instead of cutting them under it.
        if master.is_some() || batch {
            cmd.process_group(0);
        }
        inv.destination(&mut cmd);
        cmd.arg(args::remote_command(
            &inv.remote_program,
            inv.address.socket.as_deref(),
        ));
        let mut stderr = workspace.scratch().map_err(|e| spawn_error(inv, e))?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr.try_clone().map_err(|e| spawn_error(inv, e))?);
        let mut child = cmd.spawn().map_err(|e| spawn_error(inv, e))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ClientError::Protocol(
                "ssh was started without its pipes".into(),
            ));
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        let _ = (&mut stdout)
            .take(greeting::MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await;
        let host = self.host();
        match greeting::parse(&line) {
            Some(greeting::Greeting::Ready(socket)) => {
                if master.is_none() {
                    self.logged_in.store(true, Ordering::Relaxed);
                }
                let stream = PipeStream {
                    stdin,
                    stdout,
                    _child: child,
                    _master: master,
                };
                return Ok(Ok(Connected {
                    stream: Box::new(stream),
                    socket: Some(socket),
                }));
            }
            Some(greeting::Greeting::Failed { code, message }) => {
                let failure = match code {
                    69 => RemoteFailure::NoDaemon,
                    77 => RemoteFailure::PermissionDenied,
                    c => RemoteFailure::Other(Some(c.into())),
                };
                return Err(remote_error(
                    &host,
                    failure,
                    &message,
                    "the daemon could not be reached",
                ));
            }
            None if !line.is_empty() => {
                let shown: String = String::from_utf8_lossy(&line).chars().take(80).collect();
                return Err(remote_error(
                    &host,
                    RemoteFailure::Other(None),
                    "",
                    &format!(
                        "the remote side printed {:?} instead of answering (does a shell startup \
                         file there, such as ~/.bashrc, write to standard output?)",
                        shown.trim_end()
                    ),
                ));
            }
            None => {}
        }
        // Nothing came: the remote side or ssh ended; its status says why.
        drop(stdin);
        let status = child.wait().await.map_err(|e| spawn_error(inv, e))?;
        let said = read_back(&mut stderr);
        match status.code() {
            Some(127 | 126 | 2) => Ok(Err(said)),
            Some(255) => Err(inv.ssh_failed(Some(255), &said)),
            code => Err(remote_error(
                &host,
                RemoteFailure::Other(code),
                &said,
                &format!("the remote side ended ({status}) before reaching the daemon"),
            )),
        }
    }

    /// ssh's own forwarding to the daemon's socket, for a remote side
    /// without `mobile-session`.
    async fn forwarded(
        &self,
        master: Option<Arc<Master>>,
        said: &str,
    ) -> Result<Connected, ClientError> {
        let host = self.host();
        let program = &self.invocation.remote_program;
        let missing = format!("{host} has no {program} on its PATH to reach the daemon through");
        let remote = self
            .invocation
            .address
            .socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REMOTE_SOCKET));
        let Some(master) = master.filter(|_| !remote.to_string_lossy().contains(':')) else {
            return Err(remote_error(
                &host,
                RemoteFailure::NoRemoteProgram,
                said,
                &missing,
            ));
        };
        let local = master.forward(&remote).await?;
        let stream = tokio::net::UnixStream::connect(&local).await.map_err(|e| {
            remote_error(
                &host,
                RemoteFailure::Ssh,
                "",
                &format!("the shared ssh connection is gone ({e})"),
            )
        })?;
        let refused = ForwardRefused {
            host,
            message: format!(
                "no {program} there, and ssh's forwarding to {} did not connect (no daemon \
                 listens there, the remote user may not open it, or sshd forbids forwarding \
                 sockets: its log says which)",
                remote.display()
            ),
            details: Vec::new(),
        };
        Ok(Connected {
            stream: Box::new(ForwardStream {
                stream,
                refused: Some(refused),
                _master: master,
            }),
            socket: Some(remote),
        })
    }

    async fn workspace(&self) -> Result<Arc<Workspace>, ClientError> {
        let mut st = self.state.lock().await;
        Ok(match &st.workspace {
            Some(w) => w.clone(),
            None => st.workspace.insert(Workspace::create()?).clone(),
        })
    }
}

impl std::fmt::Debug for SshConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnector")
            .field("address", &self.invocation.address)
            .field("program", &self.invocation.program)
            .field("words", &self.invocation.words)
            .field("share", &self.share)
            .field("batch", &self.batch)
            .finish()
    }
}

impl Connector for SshConnector {
    fn prepare(&self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async {
            match self.share {
                true => self.ensure_master().await,
                false => Ok(()),
            }
        })
    }

    fn connect(&self) -> BoxFuture<'_, Result<Connected, ClientError>> {
        Box::pin(async {
            let (master, known_missing) = {
                let st = self.state.lock().await;
                (st.master.clone(), st.no_program.clone())
            };
            let said = match known_missing {
                Some(said) => said,
                None => match self.dial(master.clone()).await? {
                    Ok(connected) => return Ok(connected),
                    Err(said) => {
                        self.state.lock().await.no_program = Some(said.clone());
                        said
                    }
                },
            };
            self.forwarded(master, &said).await
        })
    }

    fn expected_socket(&self) -> PathBuf {
        self.invocation.address.socket.clone().unwrap_or_default()
    }

    fn host(&self) -> Option<String> {
        Some(SshConnector::host(self))
    }
}

impl Invocation {
    /// The user's command and the options every run gets. ssh keeps the
    /// first value it sees of an option: the user's own words win.
    pub fn base(&self, batch: bool) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.words)
            .arg("-T")
            // A dead host fails in seconds, when connecting and later.
            .args(args::option("ConnectTimeout", 10))
            .args(args::option("ServerAliveInterval", 10))
            .args(args::option("ServerAliveCountMax", 3));
        if batch {
            cmd.args(args::option("BatchMode", "yes"));
        }
        if let Some(port) = self.address.port {
            cmd.arg("-p").arg(port.to_string());
        }
        if let Some(user) = &self.address.user {
            cmd.arg("-l").arg(user);
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// `-- HOST`: nothing after it is taken for an option.
    pub fn destination(&self, cmd: &mut tokio::process::Command) {
        cmd.arg("--").arg(&self.address.host);
    }

    /// Runs an ssh that ends by itself (a login, a control command); its
    /// status and what it said.
    pub async fn run(
        &self,
        mut cmd: tokio::process::Command,
        workspace: &Workspace,
    ) -> Result<(ExitStatus, String), ClientError> {
        let mut stderr = workspace.scratch().map_err(|e| spawn_error(self, e))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.try_clone().map_err(|e| spawn_error(self, e))?);
        let status = cmd.status().await.map_err(|e| spawn_error(self, e))?;
        Ok((status, read_back(&mut stderr)))
    }

    /// An ssh that failed on its own (exit 255): could not connect, or
    /// could not log in.
    pub fn ssh_failed(&self, code: Option<i32>, said: &str) -> ClientError {
        let login = ["Permission denied (", "Too many authentication failures"]
            .iter()
            .any(|s| said.contains(s));
        let failure = if login {
            RemoteFailure::Login
        } else {
            RemoteFailure::Ssh
        };
        let fallback = match code {
            Some(c) => format!("ssh exited with status {c}"),
            None => "ssh was killed".to_string(),
        };
        remote_error(&self.address.host_label(), failure, said, &fallback)
    }
}

/// ssh itself could not be run.
fn spawn_error(inv: &Invocation, e: std::io::Error) -> ClientError {
    remote_error(
        &inv.address.host_label(),
        RemoteFailure::Ssh,
        "",
        &format!("cannot run {}: {e}", inv.program.to_string_lossy()),
    )
}

/// What a child wrote into its scratch file (at most 64 KiB).
fn read_back(file: &mut std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = Vec::new();
    if file.rewind().is_ok() {
        let _ = file.by_ref().take(64 * 1024).read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}
