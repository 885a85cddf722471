//! Hostile and incompatible peers get an error and a closed connection, and
//! the daemon keeps serving everyone else.

use crate::common::*;
use mobile_session_proto::connection::{decode, encode};
use mobile_session_proto::{
    ClientHello, HelloOutcome, Request, Response, ServerHello, MAGIC, PROTOCOL_VERSION,
};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

fn assert_closed(s: &mut UnixStream) {
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 64];
    match read_past_signals(|| s.read(&mut buf)) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("connection still open: {other:?}"),
    }
}

fn connect(d: &Daemon) -> UnixStream {
    let (s, outcome) = raw_hello(d);
    assert!(matches!(outcome, HelloOutcome::Welcome { .. }));
    s
}

fn expect_error_then_close(s: &mut UnixStream, needle: &str) {
    let body = read_frame(s).expect("an error frame before closing");
    match decode::<Response>(&body).unwrap() {
        Response::Error(e) => assert!(e.message.contains(needle), "{e:?}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_closed(s);
}

#[test]
fn forged_huge_length_is_refused() {
    let d = Daemon::start();
    let mut s = connect(&d);
    s.write_all(&u32::MAX.to_be_bytes()).unwrap();
    expect_error_then_close(&mut s, "larger than 1048576");
    // Just over the limit, sent whole.
    let mut s = connect(&d);
    let token = "A".repeat(1024 * 1024);
    let _ = s.write_all(
        &encode(&Request::Verify { token })
            .unwrap()
            .len()
            .to_be_bytes()[4..],
    );
    expect_error_then_close(&mut s, "larger than");
    d.ok(&["status"]);
}

#[test]
fn a_hello_larger_than_a_hello_is_refused_before_it_is_read() {
    let d = Daemon::start();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    // Only the header of a 1 MiB "hello": the refusal comes without its body.
    s.write_all(&(1024u32 * 1024).to_be_bytes()).unwrap();
    let hello: ServerHello = decode(&read_frame(&mut s).expect("a refusal")).unwrap();
    match hello.outcome {
        HelloOutcome::Refused { reason } => assert!(
            reason.contains(&mobile_session_proto::MAX_HELLO_FRAME.to_string()),
            "{reason}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_closed(&mut s);
    // After the hello, requests may be as large as ever.
    let mut s = connect(&d);
    write_frame(
        &mut s,
        &encode(&Request::Verify {
            token: "A".repeat(100_000),
        })
        .unwrap(),
    )
    .unwrap();
    let answer: Response = decode(&read_frame(&mut s).expect("an answer")).unwrap();
    assert!(matches!(answer, Response::Verified(_)), "{answer:?}");
}

#[test]
fn garbage_frames_are_refused() {
    let d = Daemon::start();
    let mut s = connect(&d);
    write_frame(&mut s, &[0xFF, 0x13, 0x37, 0x00, 0x42, 0x99, 0xAA]).unwrap();
    expect_error_then_close(&mut s, "request refused");
    // A valid request with trailing junk.
    let mut s = connect(&d);
    let mut body = encode(&Request::Status).unwrap();
    body.extend_from_slice(b"junk");
    write_frame(&mut s, &body).unwrap();
    expect_error_then_close(&mut s, "trailing");
    // Garbage instead of a handshake.
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // "GET " read as a length is ~1.2 GB: refused at once.
    let body = read_frame(&mut s).expect("a refusal");
    let hello: ServerHello = decode(&body).unwrap();
    assert!(
        matches!(hello.outcome, HelloOutcome::Refused { .. }),
        "{hello:?}"
    );
    assert_closed(&mut s);
    d.ok(&["status"]);
}

#[test]
fn wrong_protocol_version_is_refused_with_a_clear_error() {
    let d = Daemon::start();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let hello = ClientHello {
        magic: MAGIC,
        protocol: PROTOCOL_VERSION + 41,
        client_version: "9.9.9".into(),
    };
    write_frame(&mut s, &encode(&hello).unwrap()).unwrap();
    let answer: ServerHello = decode(&read_frame(&mut s).unwrap()).unwrap();
    match answer.outcome {
        HelloOutcome::Refused { reason } => {
            assert!(
                reason.contains(&format!("protocol version {}", PROTOCOL_VERSION + 41))
                    && reason.contains(&format!("speaks protocol {PROTOCOL_VERSION}")),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_closed(&mut s);
    // Wrong magic.
    let mut s = UnixStream::connect(&d.socket).unwrap();
    write_frame(
        &mut s,
        &encode(&ClientHello {
            magic: 1,
            ..ClientHello::current()
        })
        .unwrap(),
    )
    .unwrap();
    let answer: ServerHello = decode(&read_frame(&mut s).unwrap()).unwrap();
    assert!(matches!(answer.outcome, HelloOutcome::Refused { .. }));
    d.ok(&["status"]);
}

#[tokio::test]
async fn client_reports_an_incompatible_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = mobile_session_proto::Connection::new(stream, 1 << 20);
        let _: ClientHello = conn.recv().await.unwrap().unwrap();
        conn.send(&ServerHello {
            magic: MAGIC,
            protocol: 7,
            daemon_version: "7.0.0".into(),
            outcome: HelloOutcome::Welcome {
                role: mobile_session_proto::Role::Admin,
            },
        })
        .await
        .unwrap();
    });
    let err = mobile_session::Client::connect(&path)
        .await
        .expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("protocol 7") && msg.contains("7.0.0"), "{msg}");
    server.await.unwrap();
}

#[test]
fn idle_and_half_open_connections_do_not_block_others() {
    let d = Daemon::start();
    let _silent = UnixStream::connect(&d.socket).unwrap();
    let mut half = connect(&d);
    half.write_all(&[0, 0, 0, 50, 1, 2]).unwrap(); // a frame that never completes
    for _ in 0..5 {
        d.ok(&["status"]);
    }
}
