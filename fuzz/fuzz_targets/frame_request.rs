//! The daemon's view of hostile bytes on its socket: the real
//! `Connection::recv` (header, 1 MiB limit, frame split across reads,
//! bincode) reading a `ClientHello` then `Request`s, as
//! `server/connection.rs` does, plus `decode` on the raw bytes.
//!
//! Input: byte 0 is the read size (0 = everything at once), the rest is
//! what the peer sends.
#![no_main]

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use mobile_session_proto::connection::{decode, encode};
use mobile_session_proto::{ClientHello, Connection, FrameError, Request, MAX_REQUEST_FRAME};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The fuzz bytes as a socket that never blocks: each read hands out at
/// most `chunk` bytes, so frames arrive split as they may over a real
/// socket; writes are dropped.
struct Feed<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Feed<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Feed<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls once: `Feed` is always ready, so a pending future is a bug.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("recv is pending on a stream that never blocks"),
    }
}

/// What is decoded must encode back to itself.
fn round_trips<T>(msg: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let body = encode(msg).expect("a decoded message encodes");
    let again: T = decode(&body).expect("an encoded message decodes");
    assert_eq!(&again, msg);
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, wire)) = data.split_first() else {
        return;
    };
    let chunk = if chunk == 0 {
        usize::MAX
    } else {
        usize::from(chunk)
    };

    // The raw bytes as one frame body.
    if let Ok(r) = decode::<Request>(wire) {
        round_trips(&r);
    }
    if let Ok(h) = decode::<ClientHello>(wire) {
        round_trips(&h);
    }

    // The bytes as a connection, read as the daemon reads one.
    let mut conn = Connection::new(Feed { data: wire, chunk }, MAX_REQUEST_FRAME);
    match ready(conn.recv::<ClientHello>()) {
        Ok(Some(h)) => round_trips(&h),
        Ok(None) => return,
        Err(e) => return check_error(&e),
    }
    loop {
        let _ = conn.has_complete_frame();
        match ready(conn.recv::<Request>()) {
            Ok(Some(r)) => round_trips(&r),
            Ok(None) => return,
            Err(e) => return check_error(&e),
        }
    }
});

fn check_error(e: &FrameError) {
    match e {
        FrameError::TooLong { max } => assert_eq!(*max, MAX_REQUEST_FRAME),
        FrameError::Decode(_) => {}
        FrameError::Io(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
        FrameError::Encode(_) => panic!("recv reported an encoding error"),
    }
}
