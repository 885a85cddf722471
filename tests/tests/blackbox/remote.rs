//! `-H`: the daemon on another host, through the real `ssh` client and an
//! `sshd` of the test's own on 127.0.0.1 (its own keys, config and port).
//! The remote side is this machine, so every answer can be compared with
//! the one the local socket gives.

use crate::common::*;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The client through `sshd` as `login`: `-H URL ARGS`.
fn over(sshd: &Sshd, login: Login, url: &str, args: &[&str]) -> Output {
    sshd.client(login)
        .arg("-H")
        .arg(url)
        .args(args)
        .output()
        .expect("cannot run mobile-session")
}

fn json_over(sshd: &Sshd, url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = over(sshd, Login::Root, url, &all);
    assert!(
        out.status.success(),
        "{args:?} over ssh failed ({}): {}\nsshd: {}",
        out.status,
        stderr(&out),
        sshd.log()
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&out)))
}

/// A daemon on the example data, an sshd, and the address of the one
/// through the other; `None` where sshd cannot run.
fn daemon_over_ssh() -> Option<(Daemon, Sshd, String)> {
    if !can_run_sshd() {
        return None;
    }
    let d = Daemon::start();
    let sshd = Sshd::start();
    let url = sshd.url(Some(&d.socket));
    Some((d, sshd, url))
}

/// `status --json` without what changes from one call to the next.
fn steady(mut status: Value) -> Value {
    for key in ["uptime", "connections", "watchers"] {
        status.as_object_mut().unwrap().remove(key);
    }
    status
}

/// Nothing of ssh is left once the clients are done: no private folder,
/// no shared connection still running.
fn nothing_left(sshd: &Sshd) {
    let tmp = sshd.tmp();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "left in {}: {left:?}", tmp.display());
    let marker = tmp.display().to_string();
    let running = || {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let ssh = cmdline
                .split(' ')
                .next()
                .is_some_and(|a| a.ends_with("ssh"));
            if ssh && cmdline.contains(&marker) {
                found.push(cmdline);
            }
        }
        found
    };
    // `ssh -O exit` returns once the shared connection was told to go; it
    // ends a moment later (left alone it would stay for ControlPersist's
    // 60 s, past this deadline).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = running();
        if found.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "still running: {found:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn over_ssh_every_answer_is_the_one_the_socket_gives() {
    let Some((d, sshd, url)) = daemon_over_ssh() else {
        return;
    };
    for args in [
        &["apps"][..],
        &["sessions"],
        &["sessions", IOS, "--status", "pending"],
        &["show", IPAD_ID],
        &["path", IPAD_ID],
        &["verify", SEED_TOKEN],
    ] {
        let local = d.json(args);
        assert_eq!(json_over(&sshd, &url, args), local, "{args:?}");
    }
    // The same tables too.
    let out = over(&sshd, Login::Root, &url, &["sessions"]);
    assert_eq!(stdout(&out), d.ok(&["sessions"]));
    // status: the same daemon, seen through the same socket, on a host.
    let remote = json_over(&sshd, &url, &["status"]);
    assert_eq!(remote["host"], sshd.url(None), "{remote}");
    assert_eq!(remote["socket"], d.socket.display().to_string());
    let mut remote = steady(remote);
    remote.as_object_mut().unwrap().remove("host");
    assert_eq!(remote, steady(d.json(&["status"])));
    // The file is over there: its path, and no file manager opened here.
    let out = over(&sshd, Login::Root, &url, &["path", IPAD_ID, "--open"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}\n", d.file(IOS, IPAD_ID).display())
    );
    assert!(
        stderr(&out).contains(&format!("not opened: the file is on {}", sshd.url(None))),
        "{}",
        stderr(&out)
    );
    // Exit codes cross too: verify of a pending session is 3.
    let out = over(&sshd, Login::Root, &url, &["verify", IPAD_TOKEN]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // $MOBILE_SESSION_HOST and --socket; [USER@]HOST with the port in the
    // ssh command; the token from stdin, read here.
    let out = sshd
        .client(Login::Root)
        .env("MOBILE_SESSION_HOST", sshd.url(None))
        .args(["--socket", d.socket.to_str().unwrap(), "--json", "apps"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        d.json(&["apps"])
    );
    let mut cmd = sshd.client(Login::Root);
    cmd.env(
        "MOBILE_SESSION_SSH_COMMAND",
        format!("{} -p {}", sshd.ssh_command(Login::Root), sshd.port),
    )
    .args([
        "-H",
        "root@127.0.0.1",
        "--socket",
        d.socket.to_str().unwrap(),
    ])
    .args(["verify", "-"])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("Bearer {SEED_TOKEN}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "accepted\n");
    nothing_left(&sshd);

    // A run that was killed leaves its private folder; the next run of
    // this user removes it, and never one of a process still running.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = sshd.tmp().join(format!("msh-{}-0", gone.id()));
    gone.wait().unwrap();
    let live = sshd.tmp().join(format!("msh-{}-0", std::process::id()));
    for dir in [&dead, &live] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("c1"), "").unwrap();
    }
    assert!(over(&sshd, Login::Root, &url, &["apps"]).status.success());
    assert!(!dead.exists() && live.exists());
    std::fs::remove_dir_all(&live).unwrap();
    nothing_left(&sshd);
}

#[test]
fn an_admin_command_over_ssh_changes_the_remote_daemon() {
    let Some((d, sshd, url)) = daemon_over_ssh() else {
        return;
    };
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(3));
    let report = json_over(&sshd, &url, &["accept", IPAD_ID, "--push"]);
    assert_eq!(report["sessions"][0]["status"], "accepted", "{report}");
    assert_eq!(report["push"]["updated"], 1, "{report}");
    // The daemon over there (here) changed its file and its live view.
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(0));
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(d.file(IOS, IPAD_ID)).unwrap()).unwrap();
    assert_eq!(file["status"], "accepted");
    // A watch over ssh sees what happens there.
    let mut watch = sshd
        .client(Login::Root)
        .args(["-H", &url, "--json", "watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watch.stdout.take().unwrap()));
    // The stream is open once a change made after it shows up. The reader
    // is handed back: the watch must not find its output closed.
    let (shown, _lines) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let shown = lines
                .find(|l| l.as_ref().is_ok_and(|l| l.contains("\"pushed\"")))
                .is_some();
            (shown, lines)
        });
        wait_until("the watch over ssh reports a push", || {
            d.ok(&["push"]);
            reader.is_finished()
        });
        reader.join().unwrap()
    });
    assert!(shown);
    // Ctrl-C: it ends as interrupted, and stops its ssh connection itself.
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    assert_eq!(watch.wait().unwrap().code(), Some(130));
    nothing_left(&sshd);
}

#[test]
fn a_dead_socket_or_an_unreachable_host_exits_69_naming_the_host() {
    let Some((d, sshd, url)) = daemon_over_ssh() else {
        return;
    };
    let host = sshd.url(None);
    // No socket at that path over there.
    let missing = d.dir.path().join("run").join("nobody-here.sock");
    let out = over(&sshd, Login::Root, &sshd.url(Some(&missing)), &["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: on {host}: cannot reach mobile-sessiond at {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("hint (on {host}): start it")),
        "{err}"
    );
    // A socket file nobody listens on (the daemon was killed).
    let stale = d.dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let out = over(
        &sshd,
        Login::Root,
        &sshd.url(Some(&stale)),
        &["--json", "apps"],
    );
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no daemon listens on it"),
        "{}",
        stderr(&out)
    );
    // Nothing listens on that port: ssh says so, and what to check.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let elsewhere = format!("ssh://root@127.0.0.1:{closed}{}", d.socket.display());
    let out = over(&sshd, Login::Root, &elsewhere, &["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    let unreachable = format!("ssh://root@127.0.0.1:{closed}");
    assert!(
        err.starts_with(&format!("error: cannot reach {unreachable} through ssh: ")),
        "{err}"
    );
    assert!(
        err.contains("Connection refused") && err.contains("hint: ssh must reach"),
        "{err}"
    );
    // A host whose key is not the one known: ssh refuses, nothing is sent.
    std::fs::write(sshd.dir.path().join("known_hosts"), "").unwrap();
    let out = over(&sshd, Login::Root, &url, &["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Host key verification failed"),
        "{}",
        stderr(&out)
    );
    nothing_left(&sshd);
}

#[test]
fn the_remote_users_rights_apply_and_a_refusal_names_the_group_there() {
    if !can_run_sshd() {
        return;
    }
    let sshd = Sshd::start();
    // A reader over there may look, with tokens redacted, and not write.
    let d = for_others_with("reader_group = \"nogroup\"\n", None);
    let url = sshd.url(Some(&d.socket));
    let out = over(&sshd, Login::Nobody, &url, &["--json", "show", IPAD_ID]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["token"], "<redacted>");
    let out = over(&sshd, Login::Nobody, &url, &["accept", IPAD_ID]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs admin rights"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        over(&sshd, Login::Root, &url, &["accept", IPAD_ID])
            .status
            .code(),
        Some(0)
    );

    // Shut out by the socket's folder: the remote side reads the ACL there
    // and names the group to join, and the exit code is 77 as locally.
    let d = for_others_with("admin_group = \"adm\"\n", Some(0o750));
    let err = status_as_nobody_77(&sshd, &d);
    assert!(
        err.starts_with(&format!(
            "error: on {}: permission denied on the mobile-sessiond socket {}",
            sshd.url(None),
            d.socket.display()
        )) && err.contains("usermod -aG adm"),
        "{err}"
    );
    // Let in by the file system, refused by the daemon (not in its groups):
    // the daemon judged the user ssh logged in as, and says so.
    let d = for_others_with("reader_group = \"daemon\"\n", Some(0o755));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = status_as_nobody_77(&sshd, &d);
    assert!(
        err.contains("refused") && err.contains("uid 65534") && err.contains("ssh logs in as"),
        "{err}"
    );
    nothing_left(&sshd);
}

/// `status` over ssh as `nobody`, which must exit 77; its stderr.
fn status_as_nobody_77(sshd: &Sshd, d: &Daemon) -> String {
    let out = over(sshd, Login::Nobody, &sshd.url(Some(&d.socket)), &["status"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    stderr(&out)
}

/// A daemon with `config` whose socket's folder others may reach (the
/// temp dir is 0700), that folder's mode set to `folder_mode` when given.
fn for_others_with(config: &str, folder_mode: Option<u32>) -> Daemon {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start_with(Opts {
        config: Some(config.into()),
        ..Default::default()
    });
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(d.dir.path(), 0o755);
    if let Some(m) = folder_mode {
        mode(d.socket.parent().unwrap(), m);
    }
    d
}

#[test]
fn without_mobile_session_over_there_ssh_forwards_the_socket() {
    if std::path::Path::new("/usr/bin/mobile-session").exists() {
        eprintln!("skipped: /usr/bin/mobile-session is installed, the remote side would find it");
        return;
    }
    let Some((d, sshd, url)) = daemon_over_ssh() else {
        return;
    };
    // The same answers through ssh's own Unix-socket forwarding.
    let out = over(&sshd, Login::Bare, &url, &["--json", "apps"]);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        sshd.log()
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        d.json(&["apps"])
    );
    let out = over(&sshd, Login::Bare, &url, &["--json", "status"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["socket"], d.socket.display().to_string());
    assert_eq!(
        over(&sshd, Login::Bare, &url, &["accept", IPAD_ID, "--push"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(0));
    // No daemon at the forwarded path: 69, naming the host and the path.
    let missing = d.dir.path().join("nobody-here.sock");
    let out = over(&sshd, Login::Bare, &sshd.url(Some(&missing)), &["status"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&sshd.url(None))
            && err.contains(&missing.display().to_string())
            && err.contains("install mobile-session"),
        "{err}"
    );
    nothing_left(&sshd);
}

#[test]
fn app_folders_complete_over_ssh() {
    let Some((_d, sshd, url)) = daemon_over_ssh() else {
        return;
    };
    // As bash asks the program for the words of `-H URL sessions <Tab>`.
    let out = sshd
        .client(Login::Root)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "4")
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .args(["--", "mobile-session", "-H", &url, "sessions", ""])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let words = stdout(&out);
    assert!(words.contains(IOS) && words.contains(ANDROID), "{words:?}");
    nothing_left(&sshd);
}

#[test]
fn the_window_works_over_ssh_and_comes_back_with_the_host() {
    if !can_run_sshd() {
        return;
    }
    let mut d = Daemon::start();
    let mut sshd = Sshd::start();
    let url = sshd.url(Some(&d.socket));
    let command = format!(
        "env MOBILE_SESSION_SSH_COMMAND=\"{}\" TMPDIR='{}' '{}' -H '{url}' ui; \
         echo \"ui exited $?\"; exec cat",
        sshd.ssh_command(Login::Root),
        sshd.tmp().display(),
        client_bin().display(),
    );
    let tmux = crate::ui::Tmux::start(&command, 120, 32);
    let screen = tmux.wait_for("3 of 3");
    assert!(
        screen.contains(&format!("on {}", sshd.url(None))),
        "{screen}"
    );
    // A change made in the window reaches the daemon over there.
    tmux.type_text("/a6a3");
    tmux.wait_for("1 of 3");
    tmux.keys(&["Enter"]);
    tmux.type_text("s");
    wait_until("the iPad's file says accepted", || {
        std::fs::read_to_string(d.file(IOS, IPAD_ID)).is_ok_and(|t| t.contains("\"accepted\""))
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("3 of 3");

    // The daemon restarts: the window reconnects through ssh.
    d.stop();
    tmux.wait_for("daemon gone, reconnecting");
    d.spawn(&Opts::default());
    tmux.wait_for("reconnected to mobile-sessiond");

    // The host goes away: each attempt fails at once with ssh's words,
    // none hangs; when it is back, so is the window, following events.
    sshd.stop();
    tmux.wait_screen("ssh's refusal shows", |s| {
        s.contains("reconnecting") && s.contains("through ssh: ssh: connect to host")
    });
    sshd.restart();
    tmux.wait_for("reconnected to mobile-sessiond");
    let id = "c0ffee0000000000000000000000000000000003";
    let doc = session_json("com.sample.tasks", None, id, "pending");
    std::fs::write(d.file(ANDROID, id), doc.to_string()).unwrap();
    tmux.wait_screen("the new session is listed", |s| s.contains("4 of 4"));

    tmux.type_text("q");
    tmux.wait_for("ui exited 0");
    nothing_left(&sshd);
}
