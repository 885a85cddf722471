//! The client library as an embedder uses it: one shared handle across many
//! tasks, reconnecting after a daemon restart, timeouts, the watch stream as
//! a `futures::Stream`, errors with their cause, and a build without the
//! command line's dependencies.

use crate::common::*;
use futures::StreamExt;
use mobile_session::proto::{ClientHello, Connection, HelloOutcome, ServerHello, MAGIC};
use mobile_session::{Client, ClientError, EventKind, SessionFilter, Status, VerifyStatus};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_client_reconnects_after_a_daemon_restart() {
    let mut d = Daemon::start();
    let client = Client::connect(&d.socket).await.unwrap();
    let first = client.status().await.unwrap().pid;
    d.stop();
    // Down: the error names the socket and carries the OS error as its source.
    let err = client.status().await.unwrap_err();
    match &err {
        ClientError::Unreachable { path, .. } => assert_eq!(path, &d.socket),
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());
    d.spawn(&Opts::default());
    let second = client.status().await.unwrap().pid;
    assert_ne!(first, second);

    // A connection pooled before a restart is not reused: reads and writes
    // both go through on the next call.
    d.stop();
    d.spawn(&Opts::default());
    assert_eq!(
        client.verify(SEED_TOKEN).await.unwrap().status,
        VerifyStatus::Accepted
    );
    d.stop();
    d.spawn(&Opts::default());
    let r = client
        .set_status(Status::Accepted, &[IPAD_ID.to_string()], true)
        .await
        .unwrap();
    assert!(r.sessions[0].changed);
    d.stop();
    d.spawn(&Opts::default());
    let answers = client
        .verify_many(&[SEED_TOKEN.to_string(), IPAD_TOKEN.to_string()])
        .await
        .unwrap();
    assert_eq!(answers[0].status, VerifyStatus::Accepted);
    assert_eq!(answers[1].status, VerifyStatus::Accepted, "pushed above");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_shared_handle_serves_thirty_two_tasks() {
    let d = Daemon::start();
    let client = Client::builder()
        .socket(&d.socket)
        .max_connections(4)
        .build();
    let mut tasks = Vec::new();
    for n in 0..32usize {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50usize {
                match (n + i) % 5 {
                    0 => assert_eq!(client.apps().await.unwrap().len(), 2),
                    1 => assert_eq!(
                        client
                            .sessions(SessionFilter::default())
                            .await
                            .unwrap()
                            .len(),
                        3
                    ),
                    2 => assert_eq!(
                        client.verify(ANDROID_TOKEN).await.unwrap().status,
                        VerifyStatus::Accepted
                    ),
                    3 => assert!(client.show("1818").await.unwrap().contains(ANDROID_ID)),
                    _ => {
                        let tokens = vec![SEED_TOKEN.to_string(), "junk".to_string()];
                        let a = client.verify_many(&tokens).await.unwrap();
                        assert_eq!(a[1].status, VerifyStatus::Unknown);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("a task failed");
    }
    // The pool stayed within its bound: 4 of ours, plus this status call's.
    let connections = d.json(&["status"])["connections"].as_u64().unwrap();
    assert!(connections <= 5, "{connections} connections open");
    let debug = format!("{client:?}");
    assert!(debug.contains("max_connections: 4"), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_is_a_stream_that_ends_when_the_daemon_stops() {
    let mut d = Daemon::start();
    let client = Client::connect(&d.socket).await.unwrap();
    let mut events = client.watch(None).await.unwrap();
    // The stream is registered once the daemon counts it.
    wait_until("the watcher is connected", || {
        d.json(&["status"])["watchers"].as_u64() >= Some(1)
    });
    client
        .set_status(Status::Pending, &[SEED_ID.to_string()], false)
        .await
        .unwrap();
    let event = loop {
        let e = tokio::time::timeout(DEADLINE, events.next())
            .await
            .expect("an event before the deadline")
            .expect("the stream is open")
            .expect("an event, not an error");
        if e.id.as_deref() == Some(SEED_ID) {
            break e;
        }
    };
    assert!(matches!(
        event.kind,
        EventKind::Changed | EventKind::StatusChanged
    ));
    assert!(
        event.time_ms > 1_600_000_000_000,
        "a real time: {}",
        event.time_ms
    );
    let stopping = tokio::task::spawn_blocking(move || d.stop());
    // Whatever is still queued, the stream then ends.
    let end = tokio::time::timeout(DEADLINE, async {
        while let Some(item) = events.next().await {
            if item.is_err() {
                return "error";
            }
        }
        "end"
    })
    .await
    .expect("the stream ends before the deadline");
    assert_eq!(end, "end");
    assert!(stopping.await.unwrap().success());
}

#[tokio::test]
async fn a_daemon_that_does_not_answer_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    // Shakes hands, then reads requests and never answers.
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Connection::new(stream, 1 << 20);
        let _: ClientHello = conn.recv().await.unwrap().unwrap();
        conn.send(&ServerHello {
            magic: MAGIC,
            protocol: mobile_session::proto::PROTOCOL_VERSION,
            daemon_version: "silent".into(),
            outcome: HelloOutcome::Welcome {
                role: mobile_session::Role::Admin,
            },
        })
        .await
        .unwrap();
        while let Ok(Some(_)) = conn.recv::<mobile_session::proto::Request>().await {}
    });
    let client = Client::builder()
        .socket(&path)
        .request_timeout(Some(Duration::from_millis(50)))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.daemon_version().as_deref(), Some("silent"));
    match client.status().await {
        Err(ClientError::Timeout {
            what: "request", ..
        }) => {}
        other => panic!("{other:?}"),
    }
    server.abort();
}

#[tokio::test]
async fn a_daemon_that_closes_during_the_handshake_is_gone_not_a_stranger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closing.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    // Reads the hello and closes, as a daemon stopping (or too full to say
    // it is busy) does.
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Connection::new(stream, 1 << 20);
        let _: ClientHello = conn.recv().await.unwrap().unwrap();
    });
    match Client::connect(&path).await {
        Err(ClientError::ConnectionLost { .. }) => {}
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test]
async fn a_request_larger_than_the_daemon_takes_is_not_sent() {
    let d = Daemon::start();
    let client = Client::connect(&d.socket).await.unwrap();
    // One name longer than a request may be: refused here, nothing sent,
    // and the connection still good.
    let huge = "a".repeat(mobile_session::proto::MAX_REQUEST_FRAME + 1);
    match client.delete(&[huge], false).await {
        Err(ClientError::TooLarge { max }) => {
            assert_eq!(max, mobile_session::proto::MAX_REQUEST_FRAME)
        }
        other => panic!("{other:?}"),
    }
    assert!(!d.log_text().contains("request refused"));
    client.status().await.unwrap();
}

#[test]
fn the_library_builds_without_the_command_line_dependencies() {
    // The dependency graph of `mobile-session` for an embedder
    // (default-features = false): no clap, no anyhow.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // `cargo tree` of the library's normal dependencies, one per line.
    let cargo_tree = |args: &[&str]| {
        let out = std::process::Command::new(&cargo)
            .current_dir(&root)
            .args([
                "tree",
                "--offline",
                "-p",
                "mobile-session",
                "--prefix",
                "none",
            ])
            .args(args)
            .output()
            .expect("cargo tree");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let tree = |features: &[&str]| cargo_tree(&[&["-e", "normal"], features].concat());
    let lean = tree(&["--no-default-features"]);
    for banned in [
        "clap ",
        "clap_complete",
        "clap_mangen",
        "anyhow",
        "serde_json",
        "interprocess",
    ] {
        assert!(
            !lean.contains(banned),
            "{banned} in the library's tree:\n{lean}"
        );
    }
    assert!(
        lean.contains("tokio ") && lean.contains("mobile-session-proto"),
        "{lean}"
    );
    // The check means something: the default (cli) build has them.
    assert!(tree(&[]).contains("clap "));
    // Of Tokio, only what the library uses: sockets, a semaphore, timers
    // (and the protocol's I/O helpers), never the runtime, signals,
    // processes or files that an embedder did not ask for.
    let features = |extra: &[&str]| -> Vec<String> {
        let text = cargo_tree(&[&["-e", "normal,features", "-i", "tokio"], extra].concat());
        let mut f: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("tokio feature \""))
            .filter_map(|l| l.split('"').next())
            .map(str::to_string)
            .collect();
        f.sort();
        f.dedup();
        f
    };
    let lean = features(&["--no-default-features"]);
    for used in ["net", "sync", "time"] {
        assert!(lean.iter().any(|f| f == used), "{lean:?}");
    }
    for unused in ["full", "rt", "rt-multi-thread", "signal", "process", "fs"] {
        assert!(
            !lean.iter().any(|f| f == unused),
            "tokio/{unused} in {lean:?}"
        );
    }
    // The command line asks for its runtime itself.
    assert!(features(&[]).iter().any(|f| f == "rt"));
    // The ssh connector adds child processes, and still no runtime.
    let ssh = features(&["--no-default-features", "--features", "ssh"]);
    assert!(ssh.iter().any(|f| f == "process"), "{ssh:?}");
    assert!(!ssh.iter().any(|f| f == "rt" || f == "full"), "{ssh:?}");
    // And the library compiles so (its code never names those crates),
    // with the ssh connector and without.
    for extra in [&[][..], &["--features", "ssh"]] {
        let out = std::process::Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "--offline",
                "--quiet",
                "--lib",
                "-p",
                "mobile-session",
                "--no-default-features",
            ])
            .args(extra)
            .output()
            .expect("cargo build");
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    }
}
