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
}
