//! Where the socket lives. Both binaries resolve it the same way.

use std::path::{Path, PathBuf};

/// Environment variable that names the socket for both binaries.
pub const SOCKET_ENV: &str = "MOBILE_SESSION_SOCKET";
const SOCKET_FILE: &str = "mobile-sessiond.sock";

/// `--socket PATH`, else `$MOBILE_SESSION_SOCKET`, else
/// `$XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock`, else
/// `/run/mobile-sessiond/…` for root and `/tmp/mobile-sessiond-<uid>/…` otherwise.
pub fn socket_path(explicit: Option<&Path>) -> PathBuf {
    resolve_socket_path(explicit, |k| std::env::var_os(k), effective_uid())
}

/// The same rule with the environment and uid passed in, for tests.
pub fn resolve_socket_path(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
    uid: u32,
) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = env(SOCKET_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = env("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("mobile-sessiond").join(SOCKET_FILE);
    }
    if uid == 0 {
        PathBuf::from("/run/mobile-sessiond").join(SOCKET_FILE)
    } else {
        PathBuf::from(format!("/tmp/mobile-sessiond-{uid}")).join(SOCKET_FILE)
    }
}

/// The socket a system-wide daemon (the systemd unit, the launchd plist)
/// listens on: `/run/mobile-sessiond/…` on Linux, `/var/run/mobile-sessiond/…`
/// on macOS (where `/run` does not exist).
pub fn system_socket_path() -> PathBuf {
    let dir = if cfg!(target_os = "macos") {
        "/var/run/mobile-sessiond"
    } else {
        "/run/mobile-sessiond"
    };
    PathBuf::from(dir).join(SOCKET_FILE)
}

/// Where a client looks for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSocket {
    /// `--socket` or `$MOBILE_SESSION_SOCKET`: this path and no other.
    Explicit(PathBuf),
    /// No path was given: try these in order (the per-user path, then the
    /// system path) and use the first where a daemon answers.
    Search(Vec<PathBuf>),
}

impl ClientSocket {
    /// Every path this choice considers.
    pub fn candidates(&self) -> &[PathBuf] {
        match self {
            ClientSocket::Explicit(p) => std::slice::from_ref(p),
            ClientSocket::Search(v) => v,
        }
    }

    /// The path to connect to: the explicit one, else the first candidate
    /// that exists, else the first candidate (so that an error names the
    /// path a daemon of this user would use).
    pub fn pick(&self) -> &Path {
        self.pick_with(|p| p.exists() && trusted(p))
    }

    /// The paths a client connects to, in order, going on to the next while
    /// a path has no daemon (no socket file, or one nobody listens on):
    /// the explicit one; else every candidate except a socket that exists
    /// in a folder that may not be trusted (a squatted `/tmp` folder).
    pub fn to_try(&self) -> Vec<&Path> {
        self.to_try_with(|p| !p.exists() || trusted(p))
    }

    /// [`Self::to_try`] with the trust check passed in, for tests.
    pub fn to_try_with(&self, usable: impl Fn(&Path) -> bool) -> Vec<&Path> {
        match self {
            ClientSocket::Explicit(p) => vec![p.as_path()],
            ClientSocket::Search(c) => c
                .iter()
                .map(PathBuf::as_path)
                .filter(|p| usable(p))
                .collect(),
        }
    }

    /// [`Self::pick`] with the existence check passed in, for tests.
    pub fn pick_with(&self, exists: impl Fn(&Path) -> bool) -> &Path {
        let c = self.candidates();
        match self {
            ClientSocket::Explicit(p) => p,
            ClientSocket::Search(_) => c
                .iter()
                .find(|p| exists(p))
                .or_else(|| c.first())
                .map_or(Path::new(""), PathBuf::as_path),
        }
    }
}

/// Whether a socket found by searching may be used: one in a folder of a
/// shared, sticky directory such as `/tmp` (the per-user fallback) counts
/// only if that folder is a real folder of this user or root — anyone can
/// create `/tmp/mobile-sessiond-UID` first and wait for this user's tokens.
fn trusted(socket: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(folder) = socket.parent() else {
        return true;
    };
    let shared = folder
        .parent()
        .and_then(|d| std::fs::metadata(d).ok())
        .is_some_and(|m| m.mode() & 0o1002 == 0o1002);
    if !shared {
        return true;
    }
    std::fs::symlink_metadata(folder).is_ok_and(|m| {
        m.is_dir() && (m.uid() == effective_uid() || m.uid() == 0) && m.mode() & 0o022 == 0
    })
}

/// Where the client looks for the daemon. Unlike the daemon (which binds
/// one path, [`socket_path`]), a client without `--socket` or
/// `$MOBILE_SESSION_SOCKET` tries the per-user path first and then the
/// system path, so that it finds a system service from any login (an SSH
/// session sets `XDG_RUNTIME_DIR`).
pub fn client_socket(explicit: Option<&Path>) -> ClientSocket {
    resolve_client_socket(explicit, |k| std::env::var_os(k), effective_uid())
}

/// The same rule with the environment and uid passed in, for tests.
pub fn resolve_client_socket(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
    uid: u32,
) -> ClientSocket {
    if let Some(p) = explicit {
        return ClientSocket::Explicit(p.to_path_buf());
    }
    if let Some(p) = env(SOCKET_ENV).filter(|v| !v.is_empty()) {
        return ClientSocket::Explicit(PathBuf::from(p));
    }
    let own = resolve_socket_path(None, env, uid);
    let system = system_socket_path();
    let mut paths = vec![own];
    if !paths.contains(&system) {
        paths.push(system);
    }
    ClientSocket::Search(paths)
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
    }

    #[test]
    fn clients_search_the_user_then_the_system_path() {
        let system = system_socket_path();
        let xdg = env_of(&[("XDG_RUNTIME_DIR", "/run/user/7")]);
        let user = PathBuf::from("/run/user/7/mobile-sessiond/mobile-sessiond.sock");
        let found = resolve_client_socket(None, &xdg, 7);
        assert_eq!(
            found,
            ClientSocket::Search(vec![user.clone(), system.clone()])
        );
        // The first that exists wins; with none, the per-user path is named.
        assert_eq!(found.pick_with(|p| p == system), system.as_path());
        assert_eq!(found.pick_with(|_| true), user.as_path());
        assert_eq!(found.pick_with(|_| false), user.as_path());
        // Non-root without XDG_RUNTIME_DIR: /tmp first.
        let tmp = resolve_client_socket(None, env_of(&[]), 1000);
        assert_eq!(
            tmp.candidates(),
            [
                PathBuf::from("/tmp/mobile-sessiond-1000/mobile-sessiond.sock"),
                system.clone()
            ]
        );
        // A flag or the variable means that path only.
        let env = env_of(&[(SOCKET_ENV, "/env.sock"), ("XDG_RUNTIME_DIR", "/x")]);
        assert_eq!(
            resolve_client_socket(None, &env, 7),
            ClientSocket::Explicit("/env.sock".into())
        );
        let flag = resolve_client_socket(Some(Path::new("/f.sock")), &env, 7);
        assert_eq!(flag.pick_with(|_| false), Path::new("/f.sock"));
        // Connecting tries every usable candidate in order; an explicit
        // path is tried whatever it is.
        assert_eq!(found.to_try_with(|_| true), [user.as_path(), &system]);
        assert_eq!(found.to_try_with(|p| p == system), [system.as_path()]);
        assert_eq!(flag.to_try_with(|_| false), [Path::new("/f.sock")]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn root_without_xdg_has_one_candidate() {
        assert_eq!(
            resolve_client_socket(None, env_of(&[]), 0).candidates(),
            [PathBuf::from("/run/mobile-sessiond/mobile-sessiond.sock")]
        );
    }

    #[test]
    fn order_of_precedence() {
        let all = env_of(&[
            (SOCKET_ENV, "/env.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/7"),
        ]);
        assert_eq!(
            resolve_socket_path(Some(Path::new("/flag.sock")), &all, 7),
            PathBuf::from("/flag.sock")
        );
        assert_eq!(
            resolve_socket_path(None, &all, 7),
            PathBuf::from("/env.sock")
        );
        let xdg = env_of(&[("XDG_RUNTIME_DIR", "/run/user/7")]);
        assert_eq!(
            resolve_socket_path(None, xdg, 7),
            PathBuf::from("/run/user/7/mobile-sessiond/mobile-sessiond.sock")
        );
        assert_eq!(
            resolve_socket_path(None, env_of(&[]), 0),
            PathBuf::from("/run/mobile-sessiond/mobile-sessiond.sock")
        );
        assert_eq!(
            resolve_socket_path(None, env_of(&[(SOCKET_ENV, "")]), 1000),
            PathBuf::from("/tmp/mobile-sessiond-1000/mobile-sessiond.sock")
        );
    }

    #[test]
    fn a_squatted_per_user_folder_in_a_shared_directory_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        // A shared sticky directory, as /tmp is.
        let shared = base.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let folder = |name: &str, mode: u32| {
            let d = shared.join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("s.sock"), "").unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            d.join("s.sock")
        };
        let mine = folder("mine", 0o755);
        assert!(trusted(&mine));
        // Others may put their own socket in: not ours any more.
        assert!(!trusted(&folder("group-writable", 0o775)));
        assert!(!trusted(&folder("world-writable", 0o757)));
        // A symlink to our folder is not our folder.
        let link = shared.join("link");
        std::os::unix::fs::symlink(mine.parent().unwrap(), &link).unwrap();
        assert!(!trusted(&link.join("s.sock")));
        // Outside a shared directory, the folder's owner is the system's business.
        let private = base.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(trusted(&private.join("s.sock")));
        let search = ClientSocket::Search(vec![link.join("s.sock"), mine.clone()]);
        assert_eq!(search.pick(), mine);
        assert_eq!(search.to_try(), [mine.as_path()]);
        // Someone else's folder: giving one away needs root (CI runs as root).
        if effective_uid() == 0 {
            let theirs = folder("theirs", 0o755);
            std::os::unix::fs::chown(theirs.parent().unwrap(), Some(65534), Some(65534)).unwrap();
            assert!(!trusted(&theirs));
            let search = ClientSocket::Search(vec![theirs, mine.clone()]);
            assert_eq!(search.pick(), mine);
            assert_eq!(search.to_try(), [mine.as_path()]);
        } else {
            eprintln!("not checked: a folder of another user (needs root to make one)");
        }
    }
}
