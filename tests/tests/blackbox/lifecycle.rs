//! Start, stop and restart: one daemon per socket, stale sockets, signals,
//! socket and folder permissions.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

#[test]
fn sigterm_and_sigint_stop_cleanly_and_remove_the_socket() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut d = Daemon::start();
        assert!(d.socket.exists());
        d.signal(sig);
        let st = d.wait_exit();
        assert!(st.success(), "exit status {st}");
        assert!(!d.socket.exists(), "socket removed");
        assert!(d.log_text().contains("stopped"));
    }
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let d = Daemon::start();
    let out = d
        .command(&Opts::default())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("already listening") && err.contains(d.socket.to_str().unwrap()),
        "{err}"
    );
    // The first one is unharmed.
    d.ok(&["status"]);
}

#[test]
fn a_stale_socket_from_a_killed_daemon_does_not_prevent_a_start() {
    let mut d = Daemon::start();
    d.signal(libc::SIGKILL);
    d.wait_exit();
    assert!(d.socket.exists(), "SIGKILL leaves the socket file behind");
    d.spawn(&Opts::default());
    d.ok(&["status"]);
    assert!(d.log_text().contains("stale socket"));
}

#[test]
fn a_regular_file_at_the_socket_path_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("not-a-socket");
    std::fs::write(&sock, "precious").unwrap();
    let out = daemon_once(&[
        "--data-dir".as_ref(),
        dir.path().join("Data").as_os_str(),
        "--socket".as_ref(),
        sock.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a socket"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&sock).unwrap(), b"precious");
}

#[test]
fn socket_and_folder_permissions() {
    let d = Daemon::start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.socket), 0o660);
    assert_eq!(mode(d.socket.parent().unwrap()), 0o750);
}

#[test]
fn the_socket_belongs_to_the_reader_group() {
    use std::os::unix::fs::MetadataExt;
    // "daemon" exists on every Debian system; its gid is in /etc/group.
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let gid: u32 = groups
        .lines()
        .find_map(|l| l.strip_prefix("daemon:x:"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|g| g.parse().ok())
        .expect("a daemon group");
    let d = Daemon::start_with(Opts {
        config: Some("reader_group = \"daemon\"\n".into()),
        ..Default::default()
    });
    assert_eq!(std::fs::metadata(&d.socket).unwrap().gid(), gid);
    assert_eq!(
        std::fs::metadata(d.socket.parent().unwrap()).unwrap().gid(),
        gid
    );
    // An unknown group is a clear start-up error.
    let bad = Daemon::start_with(Opts {
        empty: true,
        ..Default::default()
    });
    let cfg = bad.dir.path().join("bad.toml");
    std::fs::write(&cfg, "admin_group = \"no-such-group-here\"\n").unwrap();
    let out = daemon_once(&[
        "--data-dir".as_ref(),
        bad.data.as_os_str(),
        "--socket".as_ref(),
        bad.dir.path().join("other.sock").as_os_str(),
        "--config".as_ref(),
        cfg.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no-such-group-here"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_data_dir_gets_a_mobileapps_folder() {
    let d = Daemon::start_with(Opts {
        empty: true,
        ..Default::default()
    });
    assert!(d.apps_dir().is_dir());
    assert_eq!(d.json(&["apps"]), serde_json::json!([]));
    assert_eq!(d.json(&["sessions"]), serde_json::json!([]));
}

#[test]
fn bad_config_and_arguments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "data_dir = 3\n").unwrap();
    let out = daemon_once(&["--config".as_ref(), cfg.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(cfg.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    let out = daemon_once(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}
