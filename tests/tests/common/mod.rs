//! Fixtures: build and find the real binaries, start a daemon on a copy of
//! the example data in a temp dir, run the client, wait for conditions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

mod sdk;
mod sshd;
#[allow(unused_imports)] // not every test binary signs in
pub use sdk::*;
#[allow(unused_imports)] // nor goes through ssh
pub use sshd::*;

// The example data's ids and tokens, `examples`, `copy_tree`, `snapshot`.
pub use mobile_session_tests::fixtures::*;

/// A generous deadline for conditions; tests never sleep for a fixed time.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The directory holding the built binaries (target/<profile>), built once.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Cargo builds a package's binaries only for that package's own
        // tests, so build them here (a no-op when they are up to date).
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "mobile-sessiond",
            "-p",
            "mobile-session",
            "--bins",
        ]);
        if release {
            cmd.arg("--release");
        }
        let st = cmd
            .status()
            .expect("cannot run cargo build for the binaries");
        assert!(st.success(), "building the binaries failed");
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/<test> → target/<profile>
        exe.parent()
            .and_then(Path::parent)
            .expect("target dir")
            .to_path_buf()
    })
}

pub fn daemon_bin() -> PathBuf {
    bin_dir().join("mobile-sessiond")
}

pub fn client_bin() -> PathBuf {
    bin_dir().join("mobile-session")
}

/// Gives `root` and everything under it to `uid` (and the group of the same number).
pub fn chown_tree(root: &Path, uid: u32) {
    std::os::unix::fs::lchown(root, Some(uid), Some(uid)).unwrap();
    if std::fs::symlink_metadata(root).unwrap().is_dir() {
        for e in std::fs::read_dir(root).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

/// Repeats a read on a socket with a read timeout until it gives something
/// else than EINTR: such a read is not restarted after a signal, even one
/// nobody handles (this process stopped and continued, a frozen machine).
pub fn read_past_signals<T>(mut read: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match read() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Writes one frame on a raw connection: a 4-byte big-endian length, then
/// the body.
pub fn write_frame(s: &mut impl std::io::Write, body: &[u8]) -> std::io::Result<()> {
    s.write_all(&(body.len() as u32).to_be_bytes())?;
    s.write_all(body)
}

/// Reads one frame's body from a raw connection.
pub fn read_frame(s: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// Says hello on a raw socket (reads time out at the deadline); the stream
/// and the daemon's answer.
pub fn raw_hello(
    d: &Daemon,
) -> (
    std::os::unix::net::UnixStream,
    mobile_session_proto::HelloOutcome,
) {
    use mobile_session_proto::connection::{decode, encode};
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write_frame(
        &mut s,
        &encode(&mobile_session_proto::ClientHello::current()).unwrap(),
    )
    .unwrap();
    let hello: mobile_session_proto::ServerHello = decode(&read_frame(&mut s).unwrap()).unwrap();
    (s, hello.outcome)
}

/// A raw connection that asks for the whole listing, reads its first bytes
/// (the daemon has started it) and no more: the daemon is left waiting to
/// write the rest.
pub fn started_listing(d: &Daemon) -> std::os::unix::net::UnixStream {
    use std::io::Read;
    let (mut s, _) = raw_hello(d);
    let ask = mobile_session_proto::Request::Sessions(Default::default());
    write_frame(
        &mut s,
        &mobile_session_proto::connection::encode(&ask).unwrap(),
    )
    .unwrap();
    let mut first = [0u8; 4];
    s.read_exact(&mut first).unwrap();
    s
}

/// Polls `cond` until it holds or the deadline passes.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[derive(Default)]
pub struct Opts {
    pub empty: bool,
    pub config: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The daemon's open-file limit (soft and hard).
    pub nofile: Option<u64>,
    /// The daemon's umask.
    pub umask: Option<u32>,
    /// Run the daemon as `nobody` (through `setpriv`; needs root).
    pub as_nobody: bool,
    /// Bind here instead of a socket in the temp dir.
    pub socket: Option<PathBuf>,
}

pub const NOBODY: u32 = 65534;

/// A copy of a built binary that any user may run (the checkout may sit
/// under a folder only root can enter), made once per binary and test
/// process. It is a hard link when it can be; folders left by earlier test
/// processes are removed, so their links do not keep old builds on disk.
pub fn for_others(bin: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    const PREFIX: &str = "mobile-session-bins-";
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX)?.parse().ok());
            // Gone is ESRCH; EPERM is a live process of another user.
            let gone = |pid: i32| {
                // SAFETY: signal 0 only asks whether the process exists.
                (unsafe { libc::kill(pid, 0) }) != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
            };
            if pid.is_some_and(gone) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    });
    let path = dir.join(bin.file_name().unwrap());
    static COPIED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut copied = COPIED.lock().unwrap_or_else(|e| e.into_inner());
    if !copied.contains(&path) {
        let _ = std::fs::remove_file(&path);
        if std::fs::hard_link(bin, &path).is_err() {
            std::fs::copy(bin, &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            // A child another test forked while the copy was open for
            // writing holds it until its exec: running the copy fails with
            // ETXTBSY until then. Our descriptor is closed, so once one run
            // succeeds, no later one can fail so.
            wait_until("the copied binary can run", || {
                Command::new(&path)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .output()
                    .map_or_else(|e| e.raw_os_error() != Some(libc::ETXTBSY), |_| true)
            });
        }
        copied.push(path.clone());
    }
    path
}

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// A daemon on a copy of the example data.
    pub fn start() -> Self {
        Self::start_with(Opts::default())
    }

    pub fn start_with(opts: Opts) -> Self {
        let mut d = Self::prepare(&opts);
        d.spawn(&opts);
        d
    }

    /// The data dir, config and folders of a daemon, not started yet (a
    /// test may change the tree first, then `spawn`). For `as_nobody`, the
    /// tree and the socket's folder belong to nobody.
    pub fn prepare(opts: &Opts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("Data");
        if opts.empty {
            std::fs::create_dir_all(&data).unwrap();
        } else {
            copy_tree(&examples(), &data);
        }
        let socket = opts
            .socket
            .clone()
            .unwrap_or_else(|| dir.path().join("run").join("mobile-sessiond.sock"));
        let log = dir.path().join("daemon.log");
        let d = Self {
            child: None,
            dir,
            data,
            socket,
            log,
        };
        // Always a config file of the test's own: one installed on the
        // machine (/etc/mobile-sessiond/config.toml) must not leak in.
        std::fs::write(
            d.dir.path().join("config.toml"),
            opts.config.as_deref().unwrap_or(""),
        )
        .unwrap();
        if opts.as_nobody {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::create_dir_all(d.socket.parent().unwrap()).unwrap();
            std::fs::create_dir_all(d.state_dir()).unwrap();
            for p in [
                d.socket.parent().unwrap().to_path_buf(),
                d.data.clone(),
                d.state_dir(),
            ] {
                chown_tree(&p, NOBODY);
            }
        }
        d
    }

    pub fn command(&self, opts: &Opts) -> Command {
        let mut cmd = if opts.as_nobody {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .args(["--clear-groups", "--"])
                .arg(for_others(&daemon_bin()));
            c
        } else {
            Command::new(daemon_bin())
        };
        let (nofile, umask) = (opts.nofile, opts.umask);
        if nofile.is_some() || umask.is_some() {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit and umask are async-signal-safe; nothing
            // else runs here.
            unsafe {
                cmd.pre_exec(move || {
                    if let Some(mask) = umask {
                        libc::umask(mask as libc::mode_t);
                    }
                    let Some(n) = nofile else {
                        return Ok(());
                    };
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        cmd.arg("--data-dir")
            .arg(&self.data)
            .arg("--socket")
            .arg(&self.socket);
        cmd.arg("--config").arg(self.dir.path().join("config.toml"));
        // The daemon's own state in the test's folder, never the machine's.
        if !opts.args.iter().any(|a| a.starts_with("--state-dir")) {
            cmd.arg("--state-dir").arg(self.state_dir());
        }
        cmd.args(&opts.args)
            .env_remove("MOBILE_SESSION_SOCKET")
            .env_remove("MOBILE_SESSIOND_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env("RUST_LOG", "debug");
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn spawn(&mut self, opts: &Opts) {
        self.spawn_unready(opts);
        self.wait_ready();
    }

    /// Starts the daemon without waiting for it to answer (it binds its
    /// socket before the start-up scan, and answers after it).
    pub fn spawn_unready(&mut self, opts: &Opts) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .command(opts)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start mobile-sessiond");
        self.child = Some(child);
    }

    /// Waits until the daemon answers `status` (its socket listens after the first scan).
    pub fn wait_ready(&mut self) {
        wait_until("the daemon answers", || {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("mobile-sessiond exited early ({st}):\n{}", self.log_text());
            }
            self.socket.exists() && self.cli(&["status"]).status.success()
        });
    }

    /// The daemon's own state (`--state-dir`): last seen, blocks, history.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn apps_dir(&self) -> PathBuf {
        self.data.join("MobileApps")
    }

    pub fn file(&self, app: &str, id: &str) -> PathBuf {
        self.apps_dir().join(app).join(id)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// The daemon's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// How many descriptors the daemon has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the real client binary against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(client_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run mobile-session")
    }

    pub fn cli_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(client_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run mobile-session");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "mobile-session {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `--json` output of a command that must succeed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let text = self.ok(&a);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {text}"))
    }

    /// `--json` output and exit code of a command that may fail.
    pub fn json_code(&self, args: &[&str]) -> (Value, i32) {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.cli(&a);
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (v, out.status.code().unwrap_or(-1))
    }

    /// The unpushed mark of a session in `sessions --json`.
    pub fn unpushed(&self, id: &str) -> Option<Value> {
        let rows = self.json(&["sessions"]);
        rows.as_array()?
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["unpushed"].clone())
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("daemon running");
        let mut status = None;
        wait_until("the daemon exits", || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        self.child = None;
        status.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A group's gid from /etc/group (the groups tests use exist on Debian).
pub fn gid_of(group: &str) -> u32 {
    std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(group)).then(|| f.nth(1)?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no group {group} on this machine"))
}

/// The groups named in a file's POSIX ACL (`system.posix_acl_access`), or
/// `None` when it has no ACL.
pub fn acl_groups(path: &Path) -> Option<Vec<u32>> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let name = c"system.posix_acl_access";
    let mut buf = vec![0u8; 4096];
    // SAFETY: the buffer holds `buf.len()` bytes; the kernel writes at most that.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ENODATA),
            "getxattr {}: {e}",
            path.display()
        );
        return None;
    }
    // A version word, then entries of tag (u16), perm (u16), id (u32).
    Some(
        buf[4..n as usize]
            .chunks(8)
            .filter(|e| u16::from_le_bytes([e[0], e[1]]) == 0x08)
            .map(|e| u32::from_le_bytes([e[4], e[5], e[6], e[7]]))
            .collect(),
    )
}

/// Runs the daemon with exactly `args` and waits for it to exit (for start-up
/// failures, which must exit at once with a message).
pub fn daemon_once<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(daemon_bin())
        .args(args)
        .env_remove("MOBILE_SESSION_SOCKET")
        .env_remove("MOBILE_SESSIOND_CONFIG")
        .env_remove("MOBILE_SESSIOND_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mobile-sessiond")
}

/// Runs the real client with exactly `args` (no `--socket`) and `env` on
/// top of an environment without `MOBILE_SESSION_SOCKET`.
pub fn client_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(client_bin());
    cmd.args(args)
        .env_remove("MOBILE_SESSION_SOCKET")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run mobile-session")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sets a file's last write to `days` ago (its content untouched).
pub fn written_days_ago(path: &Path, days: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    let at = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    f.set_modified(at).unwrap();
}

/// A valid session document for `app_id` (+ team) and `id`.
pub fn session_json(app_id: &str, team: Option<&str>, id: &str, status: &str) -> Value {
    use base64::Engine;
    let claims = format!(
        "{{\"appNameID\":{},\"id\":{},\"teamID\":{}}}",
        Value::from(app_id),
        Value::from(id),
        Value::from(team.unwrap_or(""))
    );
    let token = base64::engine::general_purpose::STANDARD_NO_PAD.encode(claims);
    let mut v = serde_json::json!({
        "application": {"id": app_id, "name": "App", "version": "1.0"},
        "language": {"id": "en_US", "code": "en", "region": "US"},
        "email": "",
        "device": {"description": "iPhone", "version": "17.0", "id": format!("DEV-{id}"), "simulator": false},
        "session": {"id": id, "ip": "127.0.0.1"},
        "status": status,
        "token": token,
    });
    if let Some(t) = team {
        v["team"] = serde_json::json!({ "id": t });
    }
    v
}
