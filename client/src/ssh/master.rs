//! One ssh connection shared by every stream of a connector (OpenSSH's
//! `ControlMaster`): the first stream logs in, the others open channels on
//! it, with no handshake and no prompt. It lives in a private folder of
//! this process and ends with the last stream or connector holding it
//! (`ssh -O exit`), or by itself a minute after its last stream if this
//! process was killed (`ControlPersist`).

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::args::option;
use super::Invocation;
use crate::ClientError;

/// How long a master outlives its last stream when nobody stops it.
const PERSIST_SECS: u32 = 60;
/// A Unix socket path holds at most 104 bytes on some systems; ssh adds
/// about 20 while it creates the control socket.
const MAX_CONTROL_PATH: usize = 80;

/// A folder of this process's own (0700): the shared connection's control
/// socket, the local end of a forwarding, and ssh's captured stderr.
pub(crate) struct Workspace {
    pub dir: PathBuf,
    files: AtomicU64,
}

impl Workspace {
    pub fn create() -> Result<Arc<Self>, ClientError> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        if NEXT.load(Ordering::Relaxed) == 0 {
            sweep(&base);
        }
        let mut last = None;
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("msh-{}-{n}", std::process::id()));
            // A folder that already exists is someone else's: try the next.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    return Ok(Arc::new(Self {
                        dir,
                        files: AtomicU64::new(0),
                    }))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(ClientError::Protocol(format!(
            "cannot make a private folder for ssh in {}: {}",
            base.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// An anonymous file for a child's stderr: never full, read back once
    /// the child is gone.
    pub fn scratch(&self) -> std::io::Result<File> {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("e{n}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(file)
    }

    /// The control socket of the `n`th shared connection.
    pub fn control_path(&self, n: u32) -> Option<PathBuf> {
        let path = self.dir.join(format!("c{n}"));
        (path.as_os_str().len() <= MAX_CONTROL_PATH).then_some(path)
    }
}

/// Removes the folders this user's runs that were killed left behind (a
/// run that ends removes its own).
fn sweep(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| {
            n.strip_prefix("msh-")?
                .split('-')
                .next()?
                .parse::<i32>()
                .ok()
        }) else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        // Gone is ESRCH; a live process (even another user's) keeps it.
        let gone = rustix::process::Pid::from_raw(pid)
            .is_some_and(|p| rustix::process::test_kill_process(p) == Err(rustix::io::Errno::SRCH));
        if ours && gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running shared connection.
pub(crate) struct Master {
    pub control: PathBuf,
    /// The local end of ssh's forwarding to the remote socket, once added.
    pub forwarded: Mutex<Option<PathBuf>>,
    invocation: Arc<Invocation>,
    workspace: Arc<Workspace>,
}

impl Master {
    /// Logs in and leaves the shared connection running (ssh forks it into
    /// the background once logged in, and the foreground process exits 0).
    pub async fn start(
        invocation: Arc<Invocation>,
        workspace: Arc<Workspace>,
        control: PathBuf,
        batch: bool,
    ) -> Result<Arc<Self>, ClientError> {
        let mut cmd = invocation.base(batch);
        cmd.args(option("ControlMaster", "yes"))
            .args(option("ControlPath", control.display()))
            .args(option("ControlPersist", PERSIST_SECS))
            .arg("-N");
        invocation.destination(&mut cmd);
        let (status, stderr) = invocation.run(cmd, &workspace).await?;
        if !status.success() {
            return Err(invocation.ssh_failed(status.code(), &stderr));
        }
        Ok(Arc::new(Self {
            control,
            forwarded: Mutex::new(None),
            invocation,
            workspace,
        }))
    }

    /// Whether it still answers on its control socket.
    pub fn alive(&self) -> bool {
        std::os::unix::net::UnixStream::connect(&self.control).is_ok()
    }

    /// The options that make an ssh run a channel of this connection.
    pub fn client_options(&self) -> [OsString; 4] {
        let [a, b] = option("ControlMaster", "no");
        let [c, d] = option("ControlPath", self.control.display());
        [a, b, c, d]
    }

    /// Has the connection forward a local socket to `remote` (OpenSSH's
    /// streamlocal forwarding, `-L LOCAL:REMOTE`), once; its local end.
    pub async fn forward(&self, remote: &Path) -> Result<PathBuf, ClientError> {
        if let Some(local) = crate::pool::lock(&self.forwarded).clone() {
            return Ok(local);
        }
        let local = self.workspace.dir.join("f");
        let spec = format!("{}:{}", local.display(), remote.display());
        let mut cmd = self.invocation.base(true);
        cmd.args(self.client_options())
            .args(["-O", "forward", "-L"])
            .arg(&spec);
        self.invocation.destination(&mut cmd);
        let (status, stderr) = self.invocation.run(cmd, &self.workspace).await?;
        if !status.success() {
            return Err(self.invocation.ssh_failed(status.code(), &stderr));
        }
        *crate::pool::lock(&self.forwarded) = Some(local.clone());
        Ok(local)
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if !self.control.exists() {
            return;
        }
        // Waits the few milliseconds ssh takes to tell the master to go.
        let mut cmd = std::process::Command::new(&self.invocation.program);
        cmd.args(&self.invocation.words)
            .args(option("ControlPath", self.control.display()))
            .args(["-O", "exit", "--"])
            .arg(&self.invocation.address.host)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _ = cmd.status();
    }
}
