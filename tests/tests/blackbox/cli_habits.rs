//! The command line as scripts and people use it: exit codes, pipes, quiet
//! output, confirmations, tokens from stdin, watch, wide characters. Some
//! cases use a stand-in daemon on a temporary socket to get an answer the
//! real one gives only in rare states (busy, refused).

use crate::common::*;
use mobile_session::proto::{
    ClientHello, Connection, ErrorCode, ErrorReply, HelloOutcome, Request, Response, ServerHello,
    MAGIC, PROTOCOL_VERSION,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::io::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use unicode_width::UnicodeWidthStr;

/// A stand-in daemon on `path`: greets the first client with `outcome` and
/// answers its first request with `answer`. Bound before this returns.
fn fake_daemon(
    path: &Path,
    outcome: HelloOutcome,
    answer: Option<Response>,
) -> std::thread::JoinHandle<()> {
    fake_daemon_answers(path, outcome, answer.into_iter().collect())
}

/// [`fake_daemon`] answering its first request with `answers`, in order,
/// then closing.
fn fake_daemon_answers(
    path: &Path,
    outcome: HelloOutcome,
    answers: Vec<Response>,
) -> std::thread::JoinHandle<()> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = Connection::new(stream, 1 << 20);
            let _: ClientHello = conn.recv().await.unwrap().unwrap();
            let hello = ServerHello {
                magic: MAGIC,
                protocol: PROTOCOL_VERSION,
                daemon_version: "stand-in".into(),
                outcome,
            };
            conn.send(&hello).await.unwrap();
            if answers.is_empty() {
                return;
            }
            if let Ok(Some(_)) = conn.recv::<Request>().await {
                for answer in &answers {
                    // The client may have stopped reading (it failed).
                    if conn.send(answer).await.is_err() {
                        break;
                    }
                }
            }
        });
    })
}

fn client_at(socket: &Path, args: &[&str], input: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(client_bin())
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(text) = input {
        // A command that reads no stdin may be gone already.
        let _ = stdin.write_all(text.as_bytes());
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn a_busy_daemon_exits_69_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("busy.sock");
    let server = fake_daemon(
        &sock,
        HelloOutcome::Busy {
            reason: "64 connections already".into(),
        },
        None,
    );
    let out = client_at(&sock, &["status"], None);
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(err.starts_with("error:") && err.contains("busy"), "{err}");
    server.join().unwrap();
}

#[test]
fn a_refusal_at_the_handshake_exits_77() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("refusing.sock");
    let server = fake_daemon(
        &sock,
        HelloOutcome::Refused {
            reason: "uid 1234 may not use this daemon: ask an administrator to add you to group mobile-sessiond".into(),
        },
        None,
    );
    let out = client_at(&sock, &["apps"], None);
    assert_eq!(out.status.code(), Some(77));
    assert!(
        stderr(&out).contains("group mobile-sessiond"),
        "{}",
        stderr(&out)
    );
    server.join().unwrap();
}

#[test]
fn authenticate_exits_0_accepted_3_pending_4_refused() {
    let body = |device: &str| android_body(device, "a@example.com").to_string();
    let d = Daemon::start_open("[apps.\"com.sample.tasks\"]\nverify = true\n[apps.\"UTT7VDX8W5.com.contactApp.Contact\"]\nverify = false");
    let pending = d.cli_stdin(&["--json", "authenticate"], &body("DEV-1"));
    assert_eq!(pending.status.code(), Some(3), "{}", stderr(&pending));
    let v: Value = serde_json::from_slice(&pending.stdout).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["success", "id", "status", "token", "statusText", "userInfo"]
    );
    let ios = ios_body("DEV-2", "a@example.com");
    let accepted = d.cli_stdin(&["authenticate", "-"], &ios.to_string());
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));

    // Refusals: `success: false`, or the daemon's Refused error.
    let dir = tempfile::tempdir().unwrap();
    for (n, answer) in [
        Response::Authenticated(mobile_session::AuthReply {
            success: false,
            id: None,
            status: None,
            token: None,
            status_text: "not on the guest list".into(),
            user_info: None,
        }),
        Response::Error(ErrorReply {
            code: ErrorCode::Refused,
            message: "not on the guest list".into(),
        }),
    ]
    .into_iter()
    .enumerate()
    {
        let sock = dir.path().join(format!("refuse-{n}.sock"));
        let server = fake_daemon(
            &sock,
            HelloOutcome::Welcome {
                role: mobile_session::Role::Admin,
            },
            Some(answer),
        );
        let out = client_at(&sock, &["--json", "authenticate"], Some(&body("DEV-3")));
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["statusText"], "not on the guest list");
        server.join().unwrap();
    }
}

#[test]
fn an_unknown_token_exits_4_for_user_info_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    for (n, args) in [
        &["logout", "eyJub3BlIjoxfQ"][..],
        &["user-info", "Bearer eyJub3BlIjoxfQ", "-"],
    ]
    .into_iter()
    .enumerate()
    {
        let sock = dir.path().join(format!("unknown-{n}.sock"));
        let server = fake_daemon(
            &sock,
            HelloOutcome::Welcome {
                role: mobile_session::Role::Admin,
            },
            Some(Response::Error(ErrorReply {
                code: ErrorCode::UnknownToken,
                message: "no accepted session has this token".into(),
            })),
        );
        let out = client_at(&sock, args, Some("{\"userInfo\":{}}"));
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        server.join().unwrap();
    }
    // Both the token and the body from stdin: bad usage.
    let out = client_at(
        &dir.path().join("none.sock"),
        &["user-info", "-"],
        Some("x"),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn user_info_and_logout_against_the_daemon() {
    let d = Daemon::start();
    let out = d.cli_stdin(
        &["--json", "user-info", SEED_TOKEN],
        "{\"userInfo\":{\"plan\":\"pro\"}}",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stored: Value = serde_json::from_str(&d.ok(&["--json", "show", SEED_ID])).unwrap();
    assert_eq!(stored["userInfo"]["plan"], "pro");
    assert_eq!(d.cli(&["logout", "eyJub3BlIjoxfQ"]).status.code(), Some(4));
    let out = d.cli(&["logout", &format!("Bearer {SEED_TOKEN}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!d.file(IOS, SEED_ID).exists());
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(4));
}

#[test]
fn usage_errors_exit_2_before_or_from_the_daemon() {
    let d = Daemon::start();
    for args in [
        &["show", "zzzz"][..],
        &["show", "70"],
        &["path", "a/b/cdef"],
        &["sessions", "../Data"],
        &["set-status", "maybe", "7023"],
        &["delete"],
        &["accept", "7023", "--all-pending"],
        &["--json", "--quiet", "apps"],
    ] {
        let out = d.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The daemon's BadRequest is bad usage too.
    let out = d.cli_stdin(&["authenticate"], "not json");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Not found is an error (1), not usage.
    assert_eq!(d.cli(&["show", "ffff"]).status.code(), Some(1));
}

#[test]
fn verify_reads_the_token_from_stdin_and_strips_bearer() {
    let d = Daemon::start();
    for (args, input) in [
        (&["verify", "-"][..], format!("{SEED_TOKEN}\n")),
        (&["verify", "-"], format!("Bearer {SEED_TOKEN}")),
        (&["verify", &format!("Bearer {SEED_TOKEN}")], String::new()),
        (
            &["verify", &format!("bearer  {SEED_TOKEN} ")],
            String::new(),
        ),
    ] {
        let out = d.cli_stdin(args, &input);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} {input:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out).trim(), "accepted");
    }
    assert_eq!(
        d.cli_stdin(&["verify", "-"], IPAD_TOKEN).status.code(),
        Some(3)
    );
    assert_eq!(d.cli_stdin(&["verify", "-"], "").status.code(), Some(4));
    // -q prints the session's id only.
    let out = d.cli_stdin(&["-q", "verify", "-"], SEED_TOKEN);
    assert_eq!(stdout(&out), format!("{SEED_ID}\n"));
}

/// A pipe whose reading end is already closed: the first write fails.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // Close-on-exec: a daemon another test starts meanwhile must not
    // inherit the reading end, or the write would not fail.
    // SAFETY: pipe2(2) fills two fresh descriptors we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let d = Daemon::start();
    for args in [
        &["sessions"][..],
        &["--json", "apps"],
        &["man"],
        &["completions", "bash"],
    ] {
        let out = Command::new(client_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
    }
    // As a shell pipeline: `sessions | head -1`.
    let script = format!(
        "'{}' --socket '{}' sessions | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
        client_bin().display(),
        d.socket.display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.starts_with("APP "), "{text}");
    assert!(text.ends_with("status=0\n"), "{text}");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn quiet_prints_ids_and_no_legend_drops_the_header() {
    let d = Daemon::start();
    let mut ids: Vec<String> = d
        .ok(&["-q", "sessions"])
        .lines()
        .map(String::from)
        .collect();
    ids.sort();
    let mut want = vec![SEED_ID, IPAD_ID, ANDROID_ID];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(
        d.ok(&["sessions", ANDROID, "--quiet"]),
        format!("{ANDROID_ID}\n")
    );
    assert_eq!(d.ok(&["-q", "apps"]), format!("{IOS}\n{ANDROID}\n"));
    let bare = d.ok(&["--no-legend", "apps"]);
    assert!(bare.starts_with(IOS) && !bare.contains("FOLDER"), "{bare}");
    let out = d.cli(&["-q", "accept", IPAD_ID]);
    assert_eq!(stdout(&out), format!("{IPAD_ID}\n"));
    assert!(
        out.stderr.is_empty(),
        "no hint in quiet mode: {}",
        stderr(&out)
    );
}

#[test]
fn approve_and_accept_all_pending() {
    let d = Daemon::start();
    // `approve` is accept, not a typo of `apps`.
    let r = d.json(&["approve", "a6a3"]);
    assert_eq!(r["sessions"][0]["status"], "accepted");
    d.ok(&["set-status", "pending", SEED_ID, ANDROID_ID]);
    // Only one app's.
    let r = d.json(&["accept", "--all-pending", ANDROID]);
    let ids: Vec<&str> = r["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ANDROID_ID]);
    // Every app's, with a push.
    let r = d.json(&["accept", "--all-pending", "--push"]);
    assert_eq!(r["sessions"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["sessions"][0]["id"], SEED_ID);
    assert!(r["push"].is_object(), "{r}");
    for token in [SEED_TOKEN, IPAD_TOKEN, ANDROID_TOKEN] {
        assert_eq!(d.cli(&["verify", token]).status.code(), Some(0));
    }
    // Nothing left: not an error.
    let out = d.cli(&["accept", "--all-pending"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("no pending session"));
    // Nothing pending, but accepted and not pushed yet: --push still pushes.
    d.ok(&["set-status", "pending", SEED_ID, "--push"]);
    d.ok(&["accept", SEED_ID]);
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(3));
    let r = d.json(&["accept", "--all-pending", "--push"]);
    assert_eq!(r["sessions"], serde_json::json!([]));
    assert_eq!(r["push"]["updated"], 1, "{r}");
    assert_eq!(d.cli(&["verify", SEED_TOKEN]).status.code(), Some(0));
}

#[test]
fn accept_all_pending_takes_more_sessions_than_one_request_holds() {
    let d = Daemon::start();
    // Names of about 300 bytes (the longest folder name there may be):
    // 3 600 of them are more than the 1 MiB a request may be.
    let app = format!("com.{}", "x".repeat(250));
    let folder = d.apps_dir().join(&app);
    std::fs::create_dir(&folder).unwrap();
    let n = 3600u64;
    for i in 0..n {
        let id = format!("{:040x}", 0xacce_0000u64 + i);
        let doc = session_json(&app, None, &id, "pending");
        std::fs::write(folder.join(&id), doc.to_string()).unwrap();
    }
    d.ok(&["refresh"]);
    let (r, code) = d.json_code(&["accept", "--all-pending", &app, "--push"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["sessions"].as_array().unwrap().len() as u64, n);
    // Never pushed before: all of them go live now.
    assert_eq!(r["push"]["added"].as_u64(), Some(n), "{}", r["push"]);
    let apps = d.json(&["apps"]);
    let row = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["folder"] == app.as_str())
        .unwrap();
    assert_eq!(row["pending"], 0);
}

#[test]
fn delete_dry_run_and_no_prompt_off_a_terminal() {
    let d = Daemon::start();
    let before = snapshot(&d.apps_dir());
    let out = d.ok(&["delete", "7023", "1818", "--dry-run"]);
    assert!(
        out.contains(&format!("would delete: {IOS}/{SEED_ID}"))
            && out.contains(&format!("{ANDROID}/{ANDROID_ID}")),
        "{out}"
    );
    let v = d.json(&["delete", "7023", "--dry-run"]);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["sessions"][0]["app"], IOS);
    assert_eq!(snapshot(&d.apps_dir()), before, "a dry run deletes nothing");
    // Standard input is not a terminal here: no question, the files go.
    let out = d.cli(&["delete", "7023", "1818"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!d.file(IOS, SEED_ID).exists() && !d.file(ANDROID, ANDROID_ID).exists());
}

#[test]
fn delete_dry_run_and_delete_agree_on_every_session() {
    let d = Daemon::start();
    // The iPad's file goes behind the daemon's back: live until a push.
    std::fs::remove_file(d.file(IOS, IPAD_ID)).unwrap();
    wait_until("the iPad shows deleted", || {
        d.unpushed(IPAD_ID) == Some(serde_json::json!("deleted"))
    });
    let before = snapshot(&d.apps_dir());
    let args = ["delete", "a6a3", "7023", "1818", "7023d920"];
    let out = d.ok(&[&args[..], &["--dry-run"]].concat());
    assert!(
        out.contains(&format!("already deleted: {IOS}/{IPAD_ID}\n"))
            && out.contains(&format!("would delete: {IOS}/{SEED_ID} ("))
            && out.contains(&format!("would delete: {ANDROID}/{ANDROID_ID} (")),
        "{out}"
    );
    // A session named twice is one session.
    assert_eq!(out.lines().count(), 3, "{out}");
    let dry = d.json(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(snapshot(&d.apps_dir()), before, "a dry run deletes nothing");
    let done = d.json(&args);
    let said = |v: &serde_json::Value| -> Vec<(String, String, bool)> {
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let text = |k: &str| s[k].as_str().unwrap().to_string();
                (text("app"), text("id"), s["changed"].as_bool().unwrap())
            })
            .collect()
    };
    assert_eq!(said(&dry), said(&done), "{dry}\n{done}");
    assert_eq!(said(&done).iter().filter(|s| s.2).count(), 2);
}

/// `path --open` with a stand-in file manager (`xdg-open`, `open` on macOS)
/// first on PATH that chatters on stdout and stderr and writes its
/// arguments to `marker`.
fn path_open(d: &Daemon, args: &[&str], display: Option<&str>, marker: &Path) -> Output {
    use std::os::unix::fs::PermissionsExt;
    let bin = marker.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["xdg-open", "open"] {
        let script = bin.join(name);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"file manager output\"\necho \"file manager noise\" >&2\n\
                 printf '%s\\n' \"$@\" > '{0}.tmp' && mv '{0}.tmp' '{0}'\n",
                marker.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut search = std::ffi::OsString::from(bin.as_os_str());
    search.push(":");
    search.push(path);
    let mut cmd = Command::new(client_bin());
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .env("PATH", search)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null());
    if let Some(v) = display {
        cmd.env("DISPLAY", v);
    }
    cmd.output().unwrap()
}

#[test]
fn path_open_keeps_stdout_to_the_path_and_needs_a_desktop() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("revealed");
    let file = d.file(IOS, IPAD_ID).canonicalize().unwrap();
    // With a desktop the file manager starts, and its chatter reaches
    // neither stdout (pure JSON) nor the terminal.
    let out = path_open(
        &d,
        &["--json", "path", "a6a3", "--open"],
        Some(":0"),
        &marker,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default(),
        json!({ "path": file.to_str().unwrap() }),
        "{}",
        stdout(&out)
    );
    assert!(!stderr(&out).contains("file manager"), "{}", stderr(&out));
    wait_until("the file manager was started", || marker.exists());
    let expected = if cfg!(target_os = "macos") {
        format!("-R\n{}\n", file.display())
    } else {
        format!("{}\n", file.parent().unwrap().display())
    };
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), expected);
    // Without one, only the path (and a word on stderr).
    if !cfg!(target_os = "macos") {
        std::fs::remove_file(&marker).unwrap();
        let out = path_open(&d, &["path", "a6a3", "--open"], None, &marker);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim_end(), file.to_str().unwrap());
        assert!(stderr(&out).contains("no desktop"), "{}", stderr(&out));
        assert!(!marker.exists(), "nothing is started without a desktop");
    }
}

#[test]
fn push_strict_fails_on_invalid_files() {
    let d = Daemon::start();
    let broken = "abcdef0123456789abcdef0123456789abcdef01";
    std::fs::write(d.file(IOS, broken), "{ not json").unwrap();
    d.ok(&["refresh"]);
    let out = d.cli(&["--json", "push", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["invalid"][0]["code"], 2);
    assert!(stderr(&out).contains("invalid"), "{}", stderr(&out));
    assert!(d.cli(&["push"]).status.success(), "without --strict: 0");
}

#[test]
fn sessions_lists_invalid_files_with_their_code() {
    let d = Daemon::start();
    let broken = "abcdef0123456789abcdef0123456789abcdef01";
    std::fs::write(d.file(IOS, broken), "{ not json").unwrap();
    d.ok(&["refresh"]);
    let rows = d.json(&["sessions", "--invalid"]);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], broken);
    assert_eq!(rows[0]["code"], 2);
    assert_eq!(rows[0]["status"], Value::Null);
    let all = d.json(&["sessions"]);
    assert_eq!(all.as_array().unwrap().len(), 4);
    let human = d.ok(&["sessions"]);
    assert!(human.contains("invalid (2)"), "{human}");
}

#[test]
fn wide_characters_keep_the_columns_aligned() {
    let d = Daemon::start();
    let id = "0123456789abcdef0123456789abcdef01234567";
    let mut doc = session_json("com.sample.tasks", None, id, "accepted");
    doc["device"]["description"] = "小米 13 Ultra".into();
    doc["device"]["os"] = "Android".into();
    std::fs::write(d.file(ANDROID, id), doc.to_string()).unwrap();
    d.ok(&["refresh"]);
    let out = d.ok(&["sessions", ANDROID]);
    assert!(out.contains("小米 13 Ultra"), "{out}");
    // Where the OS column starts, in screen columns, on every line.
    let starts: Vec<usize> = out
        .lines()
        .map(|l| {
            let at = l.find("Android").or_else(|| l.find("OS ")).expect(l);
            l[..at].width()
        })
        .collect();
    assert_eq!(starts.len(), 3, "{out}");
    assert!(starts.iter().all(|&s| s == starts[0]), "{out}");
}

/// Reads the child's stdout lines on a thread, so the test can wait with a deadline.
fn lines_of(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn spawn_watch(d: &Daemon, args: &[&str]) -> std::process::Child {
    let child = Command::new(client_bin())
        .arg("--socket")
        .arg(&d.socket)
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Events before the daemon registered the stream would be lost.
    wait_until("the watch stream is registered", || {
        d.json(&["status"])["watchers"].as_u64() >= Some(1)
    });
    child
}

#[test]
fn watch_prints_times_omits_absent_fields_and_exits_69_when_the_daemon_stops() {
    let mut d = Daemon::start();
    let mut child = spawn_watch(&d, &["--json"]);
    let lines = lines_of(child.stdout.take().unwrap());
    d.ok(&["set-status", "pending", SEED_ID]);
    let event: Value = loop {
        let line = lines.recv_timeout(DEADLINE).expect("an event line");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == SEED_ID {
            break v;
        }
    };
    let time = event["time"].as_str().expect("a time");
    humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{time}: {e}"));
    assert!(
        event.as_object().unwrap().values().all(|v| !v.is_null()),
        "absent fields are left out: {event}"
    );
    // Human lines start with the time too.
    let mut human = spawn_watch(&d, &[]);
    let human_lines = lines_of(human.stdout.take().unwrap());
    wait_until("both streams are registered", || {
        d.json(&["status"])["watchers"].as_u64() >= Some(2)
    });
    d.ok(&["accept", SEED_ID]);
    let line = human_lines.recv_timeout(DEADLINE).expect("an event line");
    let first = line.split(' ').next().unwrap();
    humantime::parse_rfc3339(first).unwrap_or_else(|e| panic!("{line}: {e}"));

    assert!(d.stop().success());
    for mut c in [child, human] {
        let mut status = None;
        wait_until("watch exits", || {
            status = c.try_wait().unwrap();
            status.is_some()
        });
        assert_eq!(status.unwrap().code(), Some(69));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut c.stderr.take().unwrap(), &mut err).unwrap();
        assert!(err.contains("closed the event stream"), "{err}");
    }
}

#[test]
fn watch_app_keeps_one_apps_events() {
    let d = Daemon::start();
    let mut child = spawn_watch(&d, &["--json", "--app", ANDROID]);
    let lines = lines_of(child.stdout.take().unwrap());
    d.ok(&["set-status", "pending", SEED_ID]);
    d.ok(&["set-status", "pending", ANDROID_ID]);
    let line = lines.recv_timeout(DEADLINE).expect("an event line");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["app"], ANDROID, "{v}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_listing_that_fails_after_a_page_exits_non_zero_and_says_why() {
    use mobile_session::proto::{Role, SessionRow, Status};
    let row = |id: &str| SessionRow {
        app: ANDROID.into(),
        id: id.into(),
        status: Some(Status::Accepted),
        email: None,
        device: "null".into(),
        path: format!("/d/{id}"),
        unpushed: None,
        invalid: None,
        writing: false,
        last_seen_ms: None,
        group: None,
    };
    let page = Response::SessionsPage {
        rows: vec![row("aaaa"), row("bbbb")],
        done: false,
    };
    let failed = Response::Error(ErrorReply {
        code: ErrorCode::Internal,
        message: "the listing broke off".into(),
    });
    let welcome = || HelloOutcome::Welcome { role: Role::Reader };
    for args in [&["--json", "sessions"][..], &["-q", "sessions"]] {
        // The daemon's error after a page.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let server = fake_daemon_answers(&socket, welcome(), vec![page.clone(), failed.clone()]);
        let out = client_at(&socket, args, None);
        server.join().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("bbbb"), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("the listing broke off"),
            "{args:?}: {}",
            stderr(&out)
        );
        // The daemon gone after a page.
        let socket = dir.path().join("t.sock");
        let server = fake_daemon_answers(&socket, welcome(), vec![page.clone()]);
        let out = client_at(&socket, args, None);
        server.join().unwrap();
        assert_eq!(out.status.code(), Some(69), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
        // A reader that leaves part way through many pages: a quiet end.
        let socket = dir.path().join("u.sock");
        let big = Response::SessionsPage {
            rows: (0..1000).map(|i| row(&format!("{i:040x}"))).collect(),
            done: false,
        };
        let mut pages = vec![big; 40];
        pages.push(Response::SessionsPage {
            rows: Vec::new(),
            done: true,
        });
        let server = fake_daemon_answers(&socket, welcome(), pages);
        let script = format!(
            "'{}' --socket '{}' {} | head -c 100 >/dev/null; echo \"status=${{PIPESTATUS[0]}}\"",
            client_bin().display(),
            socket.display(),
            args.join(" ")
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        server.join().unwrap();
        assert_eq!(stdout(&out), "status=0\n", "{args:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
    }
}
