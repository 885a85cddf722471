//! A hook's environment: a program that parses untrusted input gets what
//! it needs to run and nothing of the service's own environment (secrets,
//! the service manager's sockets) unless the administrator names it.
//!
//! It gets `PATH`, `LANG` and `LC_*`, `TZ`, `HOME` of the daemon's user, the
//! `MOBILE_SESSIOND_*` values of the call, and the daemon's variables that
//! `hook_env` names (an exact name, or a prefix ending in `*`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// `PATH` when the daemon has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The part of every hook's environment that does not change while the
/// daemon runs, read once at start.
pub fn base() -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.as_bytes();
            k == b"PATH" || k == b"LANG" || k == b"TZ" || k.starts_with(b"LC_")
        })
        .collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    // The user's own, not whatever $HOME the daemon was started with (sudo
    // may keep the caller's).
    let home = user_home(rustix::process::geteuid().as_raw())
        .or_else(|| std::env::var_os("HOME"))
        .unwrap_or_else(|| "/".into());
    env.push(("HOME".into(), home));
    env.sort();
    env
}

/// One call's environment: `base`, then the daemon's variables that `pass`
/// names (the administrator's choice wins over `base`), then `vars`, the
/// call's own `MOBILE_SESSIOND_*` values (which nothing overrides).
pub fn for_call(
    base: &[(OsString, OsString)],
    pass: &[String],
    vars: &[(&str, OsString)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = base.to_vec();
    let mut set = |k: &OsStr, v: OsString| {
        env.retain(|(key, _)| key != k);
        env.push((k.to_os_string(), v));
    };
    if !pass.is_empty() {
        for (k, v) in std::env::vars_os() {
            if pass.iter().any(|p| names(p, &k)) {
                set(&k, v);
            }
        }
    }
    for (k, v) in vars {
        set(OsStr::new(k), v.clone());
    }
    env
}

/// Whether the `hook_env` entry `pattern` names the variable `key`.
fn names(pattern: &str, key: &OsStr) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.as_bytes().starts_with(prefix.as_bytes()),
        None => key.as_bytes() == pattern.as_bytes(),
    }
}

/// Whether `entry` may stand in `hook_env`: a variable name (letters,
/// digits, `_`, not starting with a digit), optionally ending in `*`.
pub fn is_pattern(entry: &str) -> bool {
    let name = entry.strip_suffix('*').unwrap_or(entry);
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The home folder of `uid` in the user database.
fn user_home(uid: u32) -> Option<OsString> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    let dir = user.dir.into_os_string();
    (!dir.is_empty()).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        for ok in ["LDAP_URI", "_X", "LDAP_*", "x1"] {
            assert!(is_pattern(ok), "{ok}");
        }
        // "*" alone would hand a hook the whole environment again.
        for bad in ["", "*", "1X", "A-B", "A=B", "A*B", "A B", "**"] {
            assert!(!is_pattern(bad), "{bad}");
        }
        assert!(names("LDAP_*", OsStr::new("LDAP_URI")));
        assert!(!names("LDAP_*", OsStr::new("XLDAP_URI")));
        assert!(names("TOKEN", OsStr::new("TOKEN")));
        assert!(!names("TOKEN", OsStr::new("TOKEN2")));
    }

    #[test]
    fn the_call_wins_then_the_administrator_then_the_base() {
        let base = vec![
            (OsString::from("HOME"), OsString::from("/home/d")),
            (OsString::from("PATH"), OsString::from("/bin")),
        ];
        let pass = ["PATH".to_string()];
        let vars = [("MOBILE_SESSIOND_APP", OsString::from("com.a"))];
        let env = for_call(&base, &pass, &vars);
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("HOME").unwrap(), "/home/d");
        assert_eq!(
            get("PATH"),
            std::env::var_os("PATH").or(Some("/bin".into()))
        );
        assert_eq!(get("MOBILE_SESSIOND_APP").unwrap(), "com.a");
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
    }

    #[test]
    fn the_base_has_a_path_and_a_home_and_nothing_of_the_rest() {
        let env = base();
        let keys: Vec<_> = env.iter().map(|(k, _)| k.to_string_lossy()).collect();
        assert!(keys.iter().any(|k| k == "PATH") && keys.iter().any(|k| k == "HOME"));
        assert!(keys
            .iter()
            .all(|k| ["PATH", "HOME", "LANG", "TZ"].contains(&k.as_ref()) || k.starts_with("LC_")));
        // Root is in every user database.
        assert!(user_home(0).is_some());
    }
}
