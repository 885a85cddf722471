//! How the client finds the daemon without `--socket`: the per-user socket
//! first, then the system one (where the systemd unit listens), and what it
//! says when it finds none. These tests bind the real system path, so they
//! need root, run one at a time, and take a lock that other test runs on
//! the same machine share.

use crate::common::*;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const SYSTEM_SOCKET: &str = "/run/mobile-sessiond/mobile-sessiond.sock";

/// Holds the system path for one test: a mutex for this process, a file
/// lock for other processes (another checkout's test run).
struct SystemPath {
    _file: std::fs::File,
    _guard: MutexGuard<'static, ()>,
}

fn system_path() -> Option<SystemPath> {
    static LOCAL: Mutex<()> = Mutex::new(());
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to bind {SYSTEM_SOCKET}");
        return None;
    }
    let guard = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("mobile-sessiond-system-socket.lock"))
        .unwrap();
    // SAFETY: flock on a descriptor we own; it is released when `file` closes.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    if std::os::unix::net::UnixStream::connect(SYSTEM_SOCKET).is_ok() {
        eprintln!("skipped: a mobile-sessiond already serves {SYSTEM_SOCKET}");
        return None;
    }
    // A socket file left by a killed test run is stale: nobody answered.
    let _ = std::fs::remove_file(SYSTEM_SOCKET);
    Some(SystemPath {
        _file: file,
        _guard: guard,
    })
}

impl Drop for SystemPath {
    // Test daemons die by SIGKILL, which leaves their socket file behind:
    // leave no stale socket at the system path (dropped after the daemon).
    fn drop(&mut self) {
        if std::os::unix::net::UnixStream::connect(SYSTEM_SOCKET).is_err() {
            let _ = std::fs::remove_file(SYSTEM_SOCKET);
        }
    }
}

fn system_daemon() -> Daemon {
    Daemon::start_with(Opts {
        socket: Some(PathBuf::from(SYSTEM_SOCKET)),
        ..Default::default()
    })
}

fn xdg_socket(xdg: &Path) -> PathBuf {
    xdg.join("mobile-sessiond/mobile-sessiond.sock")
}

#[test]
fn the_system_daemon_is_found_with_xdg_runtime_dir_set() {
    let Some(_lock) = system_path() else { return };
    let d = system_daemon();
    // A login session's runtime dir, with no per-user daemon in it.
    let xdg = tempfile::tempdir().unwrap();
    let out = client_env(&["--json", "status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pid"], d.pid());
    assert_eq!(
        status["socket"], SYSTEM_SOCKET,
        "status shows the path in use"
    );
    let out = client_env(&["status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    assert!(stdout(&out).contains(SYSTEM_SOCKET), "{}", stdout(&out));
}

#[test]
fn the_per_user_daemon_comes_first() {
    let Some(_lock) = system_path() else { return };
    let system = system_daemon();
    let xdg = tempfile::tempdir().unwrap();
    let user = Daemon::start_with(Opts {
        socket: Some(xdg_socket(xdg.path())),
        ..Default::default()
    });
    let out = client_env(&["--json", "status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pid"], user.pid());
    assert_ne!(status["pid"], system.pid());
}

#[test]
fn a_stale_per_user_socket_does_not_hide_the_system_daemon() {
    let Some(_lock) = system_path() else { return };
    let system = system_daemon();
    // A per-user daemon killed with -9 leaves its socket file: bound, and
    // nobody listens on it.
    let xdg = tempfile::tempdir().unwrap();
    let stale = xdg_socket(xdg.path());
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let out = client_env(&["--json", "status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pid"], system.pid());
    assert_eq!(status["socket"], SYSTEM_SOCKET);
}

#[test]
fn a_stale_per_user_socket_and_no_system_daemon_names_both_paths_tried() {
    let Some(_lock) = system_path() else { return };
    let xdg = tempfile::tempdir().unwrap();
    let stale = xdg_socket(xdg.path());
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let out = client_env(&["status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: cannot reach mobile-sessiond at {}",
            stale.display()
        )) && err.contains(&format!("tried: {}, {SYSTEM_SOCKET}", stale.display()))
            && err.contains("no daemon listens on it"),
        "{err}"
    );
}

#[test]
fn no_daemon_anywhere_lists_the_paths_tried() {
    let Some(_lock) = system_path() else { return };
    let xdg = tempfile::tempdir().unwrap();
    let out = client_env(&["status"], &[("XDG_RUNTIME_DIR", xdg.path())]);
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cannot reach mobile-sessiond")
            && err.contains(&format!(
                "tried: {}, {SYSTEM_SOCKET}",
                xdg_socket(xdg.path()).display()
            ))
            && err.contains("start it"),
        "{err}"
    );
    // A path that is no socket at all is called that, not a dead daemon.
    let out = client_env(
        &["--socket", "/etc/passwd", "status"],
        &[("XDG_RUNTIME_DIR", xdg.path())],
    );
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(err.contains("/etc/passwd is not a socket"), "{err}");
}

#[test]
fn a_wrong_socket_points_to_the_running_daemon() {
    let Some(_lock) = system_path() else { return };
    let _d = system_daemon();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.sock");
    let out = client_env(
        &["--socket", wrong.to_str().unwrap(), "status"],
        &[("XDG_RUNTIME_DIR", dir.path())],
    );
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.contains(wrong.to_str().unwrap())
            && err.contains(&format!(
                "a mobile-sessiond socket exists at {SYSTEM_SOCKET}"
            ))
            && !err.contains("start it"),
        "{err}"
    );
    // The same when the variable names the wrong path.
    let out = client_env(
        &["status"],
        &[
            ("XDG_RUNTIME_DIR", dir.path()),
            ("MOBILE_SESSION_SOCKET", &wrong),
        ],
    );
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "a mobile-sessiond socket exists at {SYSTEM_SOCKET}"
        )) && !err.contains("start it"),
        "{err}"
    );
}
