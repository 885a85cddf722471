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
    // The same whatever the umask (a strict one would leave the folder 0700,
    // shutting the socket's group out).
    for umask in [None, Some(0o077)] {
        let d = Daemon::start_with(Opts {
            umask,
            ..Default::default()
        });
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&d.socket), 0o660, "umask {umask:?}");
        assert_eq!(mode(d.socket.parent().unwrap()), 0o750, "umask {umask:?}");
    }
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
    assert_eq!(
        out.status.code(),
        Some(78),
        "a config naming no group exits 78"
    );
    assert!(
        stderr(&out).contains("no-such-group-here"),
        "{}",
        stderr(&out)
    );
    // And the man page says 78 for it.
    let man = bad.dir.path().join("man");
    let out = std::process::Command::new(client_bin())
        .arg("man")
        .arg("--out-dir")
        .arg(&man)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(man.join("mobile-sessiond.8")).unwrap();
    let status_78 = page
        .split("\\fB78\\fR\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("exit status 78 in the man page");
    assert!(status_78.contains("group"), "{status_78}");
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
    assert_eq!(out.status.code(), Some(78), "a bad config exits 78");
    assert!(
        stderr(&out).contains(cfg.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    let out = daemon_once(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unknown_log_level_is_bad_usage() {
    let out = daemon_once(&["--log-level", "verbose"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("verbose"), "{}", stderr(&out));
    // Level words and filters are fine (the daemon then fails for lack of a
    // data dir it may create, not for the level).
    for ok in [
        "debug",
        "mobile_sessiond=trace",
        "warn,mobile_sessiond=debug",
    ] {
        let out = daemon_once(&["--log-level", ok, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{ok}: {}", stderr(&out));
    }
}

#[test]
fn under_systemd_log_lines_carry_the_journal_priority_and_no_time() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("journal");
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let data = dir.path().join("Data");
    copy_tree(&examples(), &data);
    let mut child = std::process::Command::new(daemon_bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .arg("--config")
        .arg("/dev/null")
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("JOURNAL_STREAM", &stream)
        .env_remove("RUST_LOG")
        .stderr(file)
        .spawn()
        .unwrap();
    wait_until("the daemon says it is ready", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("ready")
    });
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines() {
        assert!(
            line.starts_with('<') && line.as_bytes().get(2) == Some(&b'>'),
            "{line}"
        );
        // Not `contains("T0")`: the temp dir's random name may hold that.
        assert!(!has_timestamp(line), "a time in {line}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("ready")),
        "{text}"
    );
}

#[test]
fn sighup_reads_the_config_again_and_keeps_it_when_broken() {
    let d = Daemon::start_open("");
    let cfg = d.dir.path().join("config.toml");
    let sign_in = |d: &Daemon, device: &str| -> serde_json::Value {
        let body = android_body(device, "a@example.com");
        let out = d.cli_stdin(&["--json", "authenticate"], &body.to_string());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(sign_in(&d, "D1")["status"], "accepted");
    // A new policy: new devices wait.
    std::fs::write(&cfg, format!("{OPEN_SIGN_IN}verify = true\n")).unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the reload is done", || {
        d.log_text().contains("configuration read again")
    });
    assert_eq!(sign_in(&d, "D2")["status"], "pending");
    // A broken file: said so, and the policy in force stays.
    std::fs::write(&cfg, "[policy\nverify = ").unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the broken config is reported", || {
        d.log_text().contains("keeping the configuration in use")
    });
    assert_eq!(sign_in(&d, "D3")["status"], "pending");
    d.ok(&["status"]);
}

#[test]
fn a_reload_sets_acl_entries_only_on_a_socket_folder_the_daemon_created() {
    let (adm, nogroup) = (gid_of("adm"), gid_of("nogroup"));
    for created_by_daemon in [false, true] {
        let opts = Opts {
            config: Some("reader_group = \"nogroup\"\n".into()),
            ..Default::default()
        };
        let mut d = Daemon::prepare(&opts);
        let folder = d.socket.parent().unwrap().to_path_buf();
        if !created_by_daemon {
            // Ours (the daemon's user's) but not made by it, as /run or
            // /tmp are for a daemon run as root.
            std::fs::create_dir(&folder).unwrap();
        }
        d.spawn(&opts);
        // A reload that adds admin_group.
        std::fs::write(
            d.dir.path().join("config.toml"),
            "admin_group = \"adm\"\nreader_group = \"nogroup\"\n",
        )
        .unwrap();
        d.signal(libc::SIGHUP);
        wait_until("the reload is done", || {
            d.log_text().contains("configuration read again")
        });
        let Some(mut on_socket) = acl_groups(&d.socket) else {
            panic!("the socket has no ACL after the reload:\n{}", d.log_text());
        };
        on_socket.sort_unstable();
        let mut both = vec![adm, nogroup];
        both.sort_unstable();
        assert_eq!(on_socket, both, "the socket's entries follow the groups");
        let on_folder = acl_groups(&folder);
        if created_by_daemon {
            let mut on_folder = on_folder.expect("the daemon's folder has an ACL");
            on_folder.sort_unstable();
            assert_eq!(on_folder, both, "its folder's entries follow the groups");
        } else {
            assert_eq!(on_folder, None, "a folder the daemon found got ACL entries");
        }
    }
}

#[test]
fn sigterm_during_the_start_up_scan_stops_cleanly() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let opts = Opts::default();
        let mut d = Daemon::prepare(&opts);
        // Enough files for a scan that outlasts the signal's delivery on
        // most machines; the test holds either way.
        for i in 0..20_000u64 {
            let id = format!("{:040x}", 0x5ca2_0000_0000u64 + i);
            let doc = session_json(ANDROID, None, &id, "accepted");
            std::fs::write(d.file(ANDROID, &id), doc.to_string()).unwrap();
        }
        d.spawn_unready(&opts);
        // The socket is bound before the scan starts.
        wait_until("the socket is bound", || d.socket.exists());
        d.signal(sig);
        let st = d.wait_exit();
        let log = d.log_text();
        assert_eq!(st.code(), Some(0), "{log}");
        assert!(!d.socket.exists(), "the socket is left behind:\n{log}");
        if log.contains("during the start-up scan: stopping") {
            assert!(!log.contains(" ready: "), "{log}");
        } else {
            eprintln!("the scan ended before the signal arrived; stopped as usual");
            assert!(log.contains("stopped"), "{log}");
        }
    }
}

#[test]
fn sighup_warns_about_every_key_that_waits_for_a_restart() {
    let d = Daemon::start();
    std::fs::write(
        d.dir.path().join("config.toml"),
        "settle_ms = 70\npoll_interval_ms = 500\nwatch_queue = 1000\nmax_connections = 50\nidle_timeout_ms = 1000\nfile_mode = \"0640\"\nhistory_max_bytes = 8192\n",
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the reload is done", || {
        d.log_text().contains("configuration read again")
    });
    let log = d.log_text();
    for key in [
        "settle_ms",
        "poll_interval_ms",
        "watch_queue",
        "max_connections",
        "idle_timeout_ms",
        "file_mode",
        "history_max_bytes",
    ] {
        assert!(
            log.contains(&format!("SIGHUP: {key} changed in")),
            "no warning for {key}:\n{log}"
        );
    }
    assert!(log.contains("apply to new connections"), "{log}");
}

/// A connection that asks a daemon of many sessions for the whole listing
/// and never reads it: it keeps the daemon waiting when asked to stop.
fn stalled_listing(d: &Daemon) -> std::os::unix::net::UnixStream {
    for i in 0..5000u64 {
        let id = format!("{:040x}", 0x5107_0000_0000u64 + i);
        let doc = session_json(ANDROID, None, &id, "accepted");
        std::fs::write(d.file(ANDROID, &id), doc.to_string()).unwrap();
    }
    d.ok(&["refresh"]);
    started_listing(d)
}

#[test]
fn a_second_sigterm_while_stopping_exits_at_once() {
    let mut d = Daemon::start();
    let s = stalled_listing(&d);
    d.signal(libc::SIGTERM);
    wait_until("the daemon is stopping", || {
        d.log_text().contains("SIGTERM: stopping")
    });
    d.signal(libc::SIGTERM);
    let st = d.wait_exit();
    assert_eq!(st.code(), Some(1), "{}", d.log_text());
    assert!(d.log_text().contains("again while stopping: exiting now"));
    drop(s);
}

#[test]
fn a_daemon_started_while_another_stops_keeps_its_socket() {
    let mut old = Daemon::start();
    let s = stalled_listing(&old);
    old.signal(libc::SIGTERM);
    // The old daemon waits for the stalled listing; its socket no longer
    // takes connections.
    wait_until("the old daemon lets its socket go", || {
        !old.socket.exists() || std::os::unix::net::UnixStream::connect(&old.socket).is_err()
    });
    let new = Daemon::start_with(Opts {
        socket: Some(old.socket.clone()),
        ..Default::default()
    });
    // The listing ends, the old daemon exits: the new one is still reachable.
    drop(s);
    let st = old.wait_exit();
    assert!(st.success(), "{st}: {}", old.log_text());
    assert!(
        old.socket.exists(),
        "the old daemon removed the new one's socket"
    );
    assert_eq!(
        new.json(&["status"])["pid"].as_i64(),
        Some(i64::from(new.pid()))
    );
}

#[test]
fn a_socket_folder_of_another_user_is_refused() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give a folder away");
        return;
    }
    // Someone made the daemon's folder first (as anyone can in /tmp).
    let dir = tempfile::tempdir().unwrap();
    let squatted = dir.path().join("mobile-sessiond-0");
    std::fs::create_dir(&squatted).unwrap();
    std::os::unix::fs::chown(&squatted, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = daemon_once(&[
        "--data-dir".as_ref(),
        dir.path().join("Data").as_os_str(),
        "--socket".as_ref(),
        squatted.join("mobile-sessiond.sock").as_os_str(),
        "--config".as_ref(),
        "/dev/null".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a folder of this user or root"),
        "{}",
        stderr(&out)
    );
    assert!(!squatted.join("mobile-sessiond.sock").exists());
}

/// Whether `line` holds an RFC 3339 time such as `2026-11-26T10:04:05`.
fn has_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    let shape = b"dddd-dd-ddTdd:";
    b.windows(shape.len()).any(|w| {
        w.iter().zip(shape).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        })
    })
}
