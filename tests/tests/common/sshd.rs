//! An OpenSSH server of the test's own on 127.0.0.1: its own host key,
//! client keys, `sshd_config` and a free port, run in the foreground
//! (`sshd -D -e`) and stopped, with every session it started, on drop.
//! The client side never reads the user's ssh configuration or known
//! hosts: `ssh_command` gives `-F /dev/null` and a known_hosts of the
//! test's own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{client_bin, for_others, wait_until};

/// Who the remote side runs as, by the key that logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// root, with `mobile-session` on the PATH.
    Root,
    /// root's login, its commands run as `nobody` (uid 65534, no groups).
    Nobody,
    /// root, with a PATH that holds no `mobile-session`.
    Bare,
}

impl Login {
    fn key(self) -> &'static str {
        match self {
            Login::Root => "root_key",
            Login::Nobody => "nobody_key",
            Login::Bare => "bare_key",
        }
    }

    /// The authorized_keys options: a forced command that runs the asked
    /// one another way.
    fn options(self) -> &'static str {
        match self {
            Login::Root => "",
            Login::Nobody => {
                "command=\"exec setpriv --reuid=65534 --regid=65534 --clear-groups -- /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\" "
            }
            Login::Bare => {
                "command=\"PATH=/usr/bin:/bin exec /bin/sh -c \\\"$SSH_ORIGINAL_COMMAND\\\"\" "
            }
        }
    }
}

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// sshd needs root (it changes users) and its privilege separation folder.
pub fn can_run_sshd() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: sshd runs as root only");
        return false;
    }
    true
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "mobile-session-test",
            "-f",
        ])
        .arg(path)
        .output()
        .expect("cannot run ssh-keygen (.ci/run installs openssh-client)");
    assert!(out.status.success(), "ssh-keygen: {}", super::stderr(&out));
}

fn sshd_bin() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/sshd");
    assert!(
        path.exists(),
        "no /usr/sbin/sshd (.ci/run installs openssh-server)"
    );
    path
}

impl Sshd {
    /// Keys, config and a server listening on a free port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("host_key"));
        let mut authorized = String::new();
        for login in [Login::Root, Login::Nobody, Login::Bare] {
            let key = dir.path().join(login.key());
            keygen(&key);
            let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
            authorized.push_str(login.options());
            authorized.push_str(&public);
        }
        std::fs::write(dir.path().join("authorized_keys"), authorized).unwrap();
        // sshd's privilege separation folder, which a fresh machine lacks.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut sshd = Self {
            dir,
            port: 0,
            child: None,
        };
        sshd.listen(None);
        let public = std::fs::read_to_string(sshd.dir.path().join("host_key.pub")).unwrap();
        std::fs::write(
            sshd.known_hosts(),
            format!("[127.0.0.1]:{} {public}", sshd.port),
        )
        .unwrap();
        sshd
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// Starts the server on `port`, or on a free one (another may take a
    /// port between its test and sshd's bind: then it tries another).
    fn listen(&mut self, port: Option<u16>) {
        let bins = for_others(&client_bin());
        let bins = bins.parent().unwrap().to_path_buf();
        let d = self.dir.path().to_path_buf();
        let log = d.join("sshd.log");
        let mut last = String::new();
        let mut started = None;
        wait_until("sshd listens", || {
            let port = port.unwrap_or_else(free_port);
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
                 AuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\n\
                 PrintMotd no\nLogLevel VERBOSE\nSetEnv PATH={bins}:/usr/bin:/bin\n",
                host = d.join("host_key").display(),
                pid = d.join("sshd.pid").display(),
                keys = d.join("authorized_keys").display(),
                bins = bins.display(),
            );
            std::fs::write(d.join("sshd_config"), config).unwrap();
            let mut child = Command::new(sshd_bin())
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("cannot start sshd");
            let mut exited = None;
            wait_until("sshd listens or exits", || {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                exited = child.try_wait().unwrap();
                text.contains("Server listening on") || exited.is_some()
            });
            last = std::fs::read_to_string(&log).unwrap_or_default();
            if exited.is_none() {
                started = Some((child, port));
                return true;
            }
            // Only a port taken meanwhile (or not yet let go) is tried again.
            assert!(
                last.contains("Address already in use"),
                "sshd exited: {last}"
            );
            false
        });
        let (child, port) = started.unwrap_or_else(|| panic!("sshd: {last}"));
        self.port = port;
        self.child = Some(child);
    }

    /// `ssh://root@127.0.0.1:PORT`, with `path` when given.
    pub fn url(&self, path: Option<&Path>) -> String {
        let mut url = format!("ssh://root@127.0.0.1:{}", self.port);
        if let Some(p) = path {
            url.push_str(&p.display().to_string());
        }
        url
    }

    /// `$MOBILE_SESSION_SSH_COMMAND` for `login`: this server's key and
    /// known hosts, no user configuration, no agent.
    pub fn ssh_command(&self, login: Login) -> String {
        format!(
            "ssh -F /dev/null -i '{key}' -o IdentitiesOnly=yes -o IdentityAgent=none \
             -o UserKnownHostsFile='{known}' -o GlobalKnownHostsFile=/dev/null \
             -o StrictHostKeyChecking=yes -o LogLevel=ERROR",
            key = self.dir.path().join(login.key()).display(),
            known = self.known_hosts().display(),
        )
    }

    /// The client, as `login` on this server, for `-H URL ARGS`: its
    /// private folders (ssh's shared connection) go in this server's
    /// folder, where the tests check they are gone afterwards.
    pub fn client(&self, login: Login) -> Command {
        let mut cmd = Command::new(client_bin());
        cmd.env("MOBILE_SESSION_SSH_COMMAND", self.ssh_command(login))
            .env("TMPDIR", self.tmp())
            .env_remove("MOBILE_SESSION_HOST")
            .env_remove("MOBILE_SESSION_SOCKET")
            .stdin(Stdio::null());
        cmd
    }

    /// Where the clients run by [`Sshd::client`] keep their private folders.
    pub fn tmp(&self) -> PathBuf {
        let tmp = self.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        tmp
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The host goes away: the server and every session it runs stop (the
    /// connections break as when a machine is switched off).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let listener = child.id();
        for pid in descendants(listener) {
            // SAFETY: a plain kill(2) of a process this server started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The host comes back, on the same port with the same key.
    pub fn restart(&mut self) {
        self.stop();
        self.listen(Some(self.port));
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every process below `pid` (its sessions' sshd processes and what they run).
fn descendants(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid …; comm may hold spaces, so after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) {
                all.push(child);
                queue.push(child);
            }
        }
    }
    all
}
