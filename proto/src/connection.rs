//! [`Connection`] owns the framing: a 4-byte big-endian length prefix plus bincode 2.

use std::future::Future;
use std::task::Poll;

use bytes::{Buf, BufMut, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of more than {max} bytes refused")]
    TooLong { max: usize },
    #[error("undecodable frame: {0}")]
    Decode(String),
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error(transparent)]
    Io(std::io::Error),
}

/// The bincode configuration of every frame. The limit makes a hostile
/// length inside a frame (a `Vec` claiming 2^60 items) fail before allocating.
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ crate::MAX_RESPONSE_FRAME }>()
}

/// Encodes one message as a frame body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    bincode::serde::encode_to_vec(msg, config()).map_err(|e| FrameError::Encode(e.to_string()))
}

/// The size of `msg`'s frame body, as [`encode`] would write it, without
/// writing it anywhere.
pub fn encoded_len<T: Serialize>(msg: &T) -> Result<usize, FrameError> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(msg, &mut size, config())
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    Ok(size.bytes_written)
}

/// Decodes one frame body; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let (msg, used) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| FrameError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(FrameError::Decode(format!(
            "{} trailing bytes after the message",
            body.len() - used
        )));
    }
    Ok(msg)
}

/// What [`Connection::recv_or_answer`] received.
#[derive(Debug)]
pub enum Incoming<T> {
    /// A message to handle.
    Message(T),
    /// Every whole frame buffered was answered in place.
    Answered,
}

/// Queued output past which `feed` writes before queueing more.
const WRITE_HIGH_WATER: usize = 128 * 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;
/// A buffer that grew past this for one large frame is handed back once it
/// is empty again, so an idle connection does not keep its largest frame's
/// memory for its whole life.
const SHRINK_ABOVE: usize = 64 * 1024;

/// A framed stream of messages in both directions. It owns the framing, as
/// mini-redis's `Connection` does: bytes are read into one buffer, and each
/// frame is decoded in place once it is whole.
pub struct Connection<S> {
    stream: S,
    read: BytesMut,
    /// The read buffer's allocation as last seen by `reserve` (`capacity()`
    /// only counts what lies past the frames already taken).
    read_allocated: usize,
    write: BytesMut,
    max_incoming: usize,
    /// The largest frame this side sends, when it knows the peer's limit.
    max_outgoing: Option<usize>,
    /// How long a flush may make no progress (a peer that does not read).
    write_timeout: Option<std::time::Duration>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// `max_incoming` bounds the frames this side accepts; the peer's own
    /// limit is its business.
    pub fn new(stream: S, max_incoming: usize) -> Self {
        Self {
            stream,
            read: BytesMut::with_capacity(READ_CHUNK),
            read_allocated: READ_CHUNK,
            write: BytesMut::with_capacity(READ_CHUNK),
            max_incoming,
            max_outgoing: None,
            write_timeout: None,
        }
    }

    /// Refuses to send frames larger than `max` (the peer's limit): such a
    /// message is a `TooLong` error at once, and nothing of it is sent,
    /// rather than a connection the peer closes halfway through.
    pub fn set_max_outgoing(&mut self, max: Option<usize>) {
        self.max_outgoing = max;
    }

    /// Changes the largest frame this side accepts from now on (the daemon
    /// reads the hello with a small limit, then requests with a larger one).
    pub fn set_max_incoming(&mut self, max: usize) {
        self.max_incoming = max;
    }

    /// Bounds how long writing may wait on a peer that does not read: past
    /// it, a flush fails with `TimedOut` instead of holding the buffer.
    pub fn set_write_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.write_timeout = timeout;
    }

    /// Receives one message; `Ok(None)` when the peer closed cleanly.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        Ok(match self.recv_or_answer(|_, _| false).await? {
            Some(Incoming::Message(m)) => Some(m),
            Some(Incoming::Answered) | None => None,
        })
    }

    /// As [`Self::recv`], but each whole frame is first offered to `answer`
    /// with the outgoing buffer: a frame it answers there (it returns
    /// true; the answer goes out with the next flush) is consumed without
    /// being decoded. Returns [`Incoming::Answered`] once the frames
    /// buffered are answered, without waiting for more, so the caller
    /// flushes. Cancel-safe: nothing is answered across an `await`.
    pub async fn recv_or_answer<T: DeserializeOwned>(
        &mut self,
        mut answer: impl FnMut(&[u8], &mut BytesMut) -> bool,
    ) -> Result<Option<Incoming<T>>, FrameError> {
        let mut answered = false;
        loop {
            if let Some(len) = frame_len(&self.read, self.max_incoming)? {
                if self.read.len() >= 4 + len {
                    // Past the high water mark, answers wait for a flush.
                    if self.write.len() < WRITE_HIGH_WATER
                        && answer(&self.read[4..4 + len], &mut self.write)
                    {
                        self.read.advance(4 + len);
                        shrink_read(&mut self.read, &mut self.read_allocated);
                        answered = true;
                        continue;
                    }
                    if answered {
                        return Ok(Some(Incoming::Answered));
                    }
                    let msg = take_frame(&mut self.read, self.max_incoming)?;
                    shrink_read(&mut self.read, &mut self.read_allocated);
                    return Ok(msg.map(Incoming::Message));
                }
            }
            if answered {
                return Ok(Some(Incoming::Answered));
            }
            reserve_read(&mut self.read, &mut self.read_allocated);
            let n = self
                .stream
                .read_buf(&mut self.read)
                .await
                .map_err(FrameError::Io)?;
            if n == 0 {
                return if self.read.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()))
                };
            }
        }
    }

    /// Queues one message without flushing (for pipelining). It is encoded
    /// straight into the write buffer: no intermediate allocation.
    pub async fn feed<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        if self.write.len() >= WRITE_HIGH_WATER {
            self.flush().await?;
        }
        let start = self.write.len();
        encode_frame(&mut self.write, msg)?;
        match self.max_outgoing {
            Some(max) if self.write.len() - start - 4 > max => {
                self.write.truncate(start);
                Err(FrameError::TooLong { max })
            }
            _ => Ok(()),
        }
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        let write = async {
            if !self.write.is_empty() {
                self.stream.write_all(&self.write).await?;
                self.write.clear();
                if self.write.capacity() > SHRINK_ABOVE {
                    self.write = BytesMut::with_capacity(READ_CHUNK);
                }
            }
            self.stream.flush().await
        };
        let Some(t) = self.write_timeout else {
            return write.await.map_err(FrameError::Io);
        };
        // An answer nearly always fits the socket buffer at once: only a
        // write that has to wait arms the timer (and reads the clock).
        let mut write = std::pin::pin!(write);
        let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        if let Poll::Ready(r) = first {
            return r.map_err(FrameError::Io);
        }
        match tokio::time::timeout(t, write).await {
            Ok(r) => r.map_err(FrameError::Io),
            Err(_) => Err(FrameError::Io(std::io::ErrorKind::TimedOut.into())),
        }
    }

    /// Sends one message and flushes it.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// True when the next request is already buffered whole: the daemon
    /// then delays its flush so pipelined answers share one write.
    pub fn has_complete_frame(&self) -> bool {
        matches!(frame_len(&self.read, self.max_incoming), Ok(Some(len)) if self.read.len() >= 4 + len)
    }

    /// Sends `requests` while reading their answers, so that neither side's
    /// socket buffer can fill up and stall the other (pipelining). Answers
    /// come back in order; `map` turns each into the caller's type.
    pub async fn pipeline<Q: Serialize, A: DeserializeOwned, R>(
        &mut self,
        requests: &[Q],
        mut map: impl FnMut(A) -> Result<R, FrameError>,
    ) -> Result<Vec<R>, FrameError> {
        let (mut rd, mut wr) = tokio::io::split(&mut self.stream);
        let writer = async {
            let mut buf = BytesMut::with_capacity(WRITE_HIGH_WATER);
            for chunk in requests.chunks(256) {
                for q in chunk {
                    encode_frame(&mut buf, q)?;
                }
                wr.write_all(&buf).await.map_err(FrameError::Io)?;
                buf.clear();
            }
            wr.flush().await.map_err(FrameError::Io)
        };
        let max = self.max_incoming;
        let read = &mut self.read;
        let allocated = &mut self.read_allocated;
        let reader = async {
            let mut out = Vec::with_capacity(requests.len());
            while out.len() < requests.len() {
                match take_frame(read, max)? {
                    Some(a) => {
                        shrink_read(read, allocated);
                        out.push(map(a)?)
                    }
                    None => {
                        reserve_read(read, allocated);
                        if rd.read_buf(read).await.map_err(FrameError::Io)? == 0 {
                            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                        }
                    }
                }
            }
            Ok(out)
        };
        let (w, r) = tokio::join!(writer, reader);
        w?;
        r
    }

    /// The stream, e.g. to check whether an idle connection is still open.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Bytes received but not yet decoded (0 between complete exchanges).
    pub fn buffered(&self) -> usize {
        self.read.len()
    }

    pub fn into_inner(self) -> S {
        self.stream
    }
}

/// Makes room for one more read, noting how large the allocation now is.
fn reserve_read(read: &mut BytesMut, allocated: &mut usize) {
    read.reserve(READ_CHUNK);
    // When `reserve` had to make room, the buffer starts at its allocation's
    // start (it moved what it held there, or allocated anew), so this is the
    // allocation's size; otherwise it is less, and the maximum stands.
    *allocated = (*allocated).max(read.capacity());
}

/// Once a large frame is taken and nothing else waits in the buffer, trades
/// the buffer for a fresh small one.
fn shrink_read(read: &mut BytesMut, allocated: &mut usize) {
    if read.is_empty() && *allocated > SHRINK_ABOVE {
        *read = BytesMut::with_capacity(READ_CHUNK);
        *allocated = READ_CHUNK;
    }
}

/// The length of the frame at the front of `read`, once its header is in;
/// a length over `max` is refused before any of its body is read (or
/// memory reserved for it).
fn frame_len(read: &BytesMut, max: usize) -> Result<Option<usize>, FrameError> {
    let Some(h) = read.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
    if len > max {
        return Err(FrameError::TooLong { max });
    }
    Ok(Some(len))
}

/// Takes the message at the front of `read` once its frame is whole: the
/// one frame parser of both `recv` and `pipeline`.
fn take_frame<T: DeserializeOwned>(
    read: &mut BytesMut,
    max: usize,
) -> Result<Option<T>, FrameError> {
    match frame_len(read, max)? {
        Some(len) if read.len() >= 4 + len => {
            let msg = decode(&read[4..4 + len]);
            read.advance(4 + len);
            msg.map(Some)
        }
        _ => Ok(None),
    }
}

/// Appends one frame (length prefix + bincode) to `buf`.
fn encode_frame<T: Serialize>(buf: &mut BytesMut, msg: &T) -> Result<(), FrameError> {
    let start = buf.len();
    buf.put_u32(0);
    let mut w = std::mem::take(buf).writer();
    let written = bincode::serde::encode_into_std_write(msg, &mut w, config());
    *buf = w.into_inner();
    match written {
        Ok(n) => {
            let len =
                u32::try_from(n).map_err(|_| FrameError::Encode("message too large".into()))?;
            buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(FrameError::Encode(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response, Status};

    #[tokio::test]
    async fn round_trip_and_limits() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut client = Connection::new(a, 1 << 20);
        let mut server = Connection::new(b, 64);
        client
            .send(&Request::Verify {
                token: "abc".into(),
            })
            .await
            .unwrap();
        let got: Request = server.recv().await.unwrap().unwrap();
        assert_eq!(
            got,
            Request::Verify {
                token: "abc".into()
            }
        );
        // Larger than the server's 64-byte limit.
        client
            .send(&Request::Verify {
                token: "x".repeat(100),
            })
            .await
            .unwrap();
        match server.recv::<Request>().await {
            Err(FrameError::TooLong { max: 64 }) => {}
            other => panic!("expected TooLong, got {other:?}"),
        }
        let _ = Response::Error(crate::ErrorReply {
            code: crate::ErrorCode::BadRequest,
            message: String::new(),
        });
        let _ = Status::Accepted;
    }

    #[tokio::test]
    async fn a_frame_over_the_peers_limit_is_not_sent() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut client = Connection::new(a, 1 << 20);
        client.set_max_outgoing(Some(64));
        let mut server = Connection::new(b, 64);
        let r = client
            .send(&Request::Verify {
                token: "x".repeat(100),
            })
            .await;
        assert!(matches!(r, Err(FrameError::TooLong { max: 64 })), "{r:?}");
        // Nothing of it went out: the next message is read as the first.
        client
            .send(&Request::Verify { token: "ok".into() })
            .await
            .unwrap();
        let got: Request = server.recv().await.unwrap().unwrap();
        assert_eq!(got, Request::Verify { token: "ok".into() });
    }

    #[test]
    fn hostile_vec_length_fails_without_allocating() {
        // Variant index of Request::Delete, then a varint length of u64::MAX.
        let mut body = vec![6u8, 0xFF];
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Request>(&body).is_err());
    }

    #[tokio::test]
    async fn pipeline_refuses_a_forged_length_from_the_header() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut client = Connection::new(a, 1024);
        let peer = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let _ = b.read(&mut buf).await;
            b.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
            // Keep the stream open: the refusal must not wait for more bytes.
            b
        });
        let reqs = [Request::Status];
        let r = client.pipeline(&reqs, |r: Response| Ok(r)).await;
        assert!(matches!(r, Err(FrameError::TooLong { max: 1024 })), "{r:?}");
        drop(peer.await);
    }

    #[tokio::test]
    async fn a_peer_that_does_not_read_times_the_write_out() {
        let (a, _b) = tokio::io::duplex(64);
        let mut conn = Connection::new(a, 1024);
        conn.set_write_timeout(Some(std::time::Duration::from_millis(20)));
        let r = conn
            .send(&Request::Verify {
                token: "x".repeat(4096),
            })
            .await;
        assert!(
            matches!(&r, Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut),
            "{r:?}"
        );
    }

    /// Bytes the current thread has allocated and not freed: what a
    /// connection keeps, measured by the allocator rather than by `BytesMut`
    /// (whose `capacity()` does not count the frames already taken).
    mod held {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static LIVE: Cell<isize> = const { Cell::new(0) };
        }

        fn add(n: isize) {
            let _ = LIVE.try_with(|l| l.set(l.get() + n));
        }

        pub fn live() -> isize {
            LIVE.with(Cell::get)
        }

        struct Counting;

        // SAFETY: every call is forwarded to the system allocator unchanged.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                add(layout.size() as isize);
                System.alloc(layout)
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                add(-(layout.size() as isize));
                System.dealloc(ptr, layout)
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                add(new_size as isize - layout.size() as isize);
                System.realloc(ptr, layout, new_size)
            }
        }

        #[global_allocator]
        static COUNTING: Counting = Counting;
    }

    #[tokio::test]
    async fn a_large_frame_leaves_no_large_buffer_behind() {
        // A small pipe, so that it holds little of its own.
        let (a, b) = tokio::io::duplex(4096);
        let mut client = Connection::new(a, 1 << 20);
        let mut server = Connection::new(b, 1 << 20);
        let big = Request::Verify {
            token: "x".repeat(300_000),
        };
        let before = held::live();
        // Both ways: each side's write buffer and read buffer grow for it.
        let (sent, got) = tokio::join!(client.send(&big), server.recv::<Request>());
        sent.unwrap();
        assert_eq!(got.unwrap().as_ref(), Some(&big));
        let (sent, got) = tokio::join!(server.send(&big), client.recv::<Request>());
        sent.unwrap();
        assert_eq!(got.unwrap().as_ref(), Some(&big));
        let kept = held::live() - before;
        assert!(
            kept < 2 * SHRINK_ABOVE as isize,
            "two connections kept {kept} bytes after a {} byte frame each way",
            300_000
        );
        // And they still work, with small frames as with large ones.
        let small = Request::Status;
        let (sent, got) = tokio::join!(client.send(&small), server.recv::<Request>());
        sent.unwrap();
        assert_eq!(got.unwrap(), Some(small));
    }

    #[tokio::test]
    async fn the_limit_can_change_after_the_first_frame() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut client = Connection::new(a, 1 << 20);
        let mut server = Connection::new(b, 64);
        let long = Request::Verify {
            token: "x".repeat(100),
        };
        client.send(&Request::Status).await.unwrap();
        assert_eq!(
            server.recv::<Request>().await.unwrap(),
            Some(Request::Status)
        );
        server.set_max_incoming(1024);
        client.send(&long).await.unwrap();
        assert_eq!(server.recv::<Request>().await.unwrap(), Some(long));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut body = encode(&Request::Apps).unwrap();
        body.push(0);
        assert!(decode::<Request>(&body).is_err());
    }

    mod props {
        use super::*;
        use crate::{ClientHello, SessionFilter, MAX_REQUEST_FRAME};
        use proptest::collection::vec;
        use proptest::option::of;
        use proptest::prelude::*;

        fn status() -> impl Strategy<Value = Status> {
            prop_oneof![Just(Status::Accepted), Just(Status::Pending)]
        }

        fn request() -> impl Strategy<Value = Request> {
            let s = || ".{0,12}";
            prop_oneof![
                Just(Request::Apps),
                (of(s()), of(status()), of(s()), of(s()), any::<bool>()).prop_map(
                    |(app, status, email, device_token, invalid)| {
                        Request::Sessions(SessionFilter {
                            app,
                            status,
                            email,
                            device_token,
                            invalid,
                            ..SessionFilter::default()
                        })
                    }
                ),
                s().prop_map(|session| Request::Show { session }),
                s().prop_map(|session| Request::Path { session }),
                (status(), vec(s(), 0..4), any::<bool>()).prop_map(|(status, sessions, push)| {
                    Request::SetStatus {
                        status,
                        sessions,
                        push,
                    }
                }),
                (vec(s(), 0..4), any::<bool>(), any::<bool>()).prop_map(
                    |(sessions, push, dry_run)| Request::Delete {
                        sessions,
                        push,
                        dry_run
                    }
                ),
                any::<bool>().prop_map(|full| Request::Push { full }),
                Just(Request::Refresh),
                s().prop_map(|token| Request::Verify { token }),
                s().prop_map(|body| Request::Authenticate { body }),
                Just(Request::Status),
                of(s()).prop_map(|app| Request::Watch { app }),
                (s(), s()).prop_map(|(token, body)| Request::UserInfo { token, body }),
                s().prop_map(|token| Request::Logout { token }),
            ]
        }

        fn frames(reqs: &[Request]) -> Vec<u8> {
            let mut buf = BytesMut::new();
            encode_frame(&mut buf, &ClientHello::current()).unwrap();
            for r in reqs {
                encode_frame(&mut buf, r).unwrap();
            }
            buf.to_vec()
        }

        /// What the daemon reads from `wire` arriving in pieces cut at
        /// `cuts`: the hello, then requests until an error or the end.
        fn read_all(wire: &[u8], cuts: &[usize]) -> (Option<ClientHello>, Vec<Request>) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut read = BytesMut::new();
            let (mut hello, mut reqs, mut from) = (None, Vec::new(), 0);
            for cut in cuts {
                read.extend_from_slice(&wire[from..cut]);
                from = cut;
                loop {
                    let taken = if hello.is_none() {
                        take_frame::<ClientHello>(&mut read, MAX_REQUEST_FRAME)
                            .map(|h| h.map(|h| hello = Some(h)))
                    } else {
                        take_frame::<Request>(&mut read, MAX_REQUEST_FRAME)
                            .map(|r| r.map(|r| reqs.push(r)))
                    };
                    match taken {
                        Ok(Some(())) => continue,
                        Ok(None) => break,
                        Err(_) => return (hello, reqs),
                    }
                }
            }
            (hello, reqs)
        }

        /// A stream that hands out `chunks` one read at a time, and keeps
        /// what is written to it.
        struct Chunked {
            chunks: std::collections::VecDeque<Vec<u8>>,
            written: Vec<u8>,
        }

        impl AsyncRead for Chunked {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                if let Some(mut c) = self.chunks.pop_front() {
                    let n = c.len().min(buf.remaining());
                    buf.put_slice(&c[..n]);
                    if n < c.len() {
                        self.chunks.push_front(c.split_off(n));
                    }
                }
                Poll::Ready(Ok(()))
            }
        }

        impl AsyncWrite for Chunked {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                self.written.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }

        /// A verdict that depends on the token only.
        fn verdict(token: &str) -> crate::VerifyReply {
            match token.len() % 3 {
                0 => crate::VerifyReply::unknown(),
                n => crate::VerifyReply {
                    status: if n == 1 {
                        crate::VerifyStatus::Accepted
                    } else {
                        crate::VerifyStatus::Pending
                    },
                    app: Some(format!("app{}", token.len())),
                    id: Some(token.chars().rev().collect()),
                },
            }
        }

        /// What a server loop writes for `wire` arriving cut at `cuts`,
        /// answering verifies in place (`in_place`) or decoded; how it ended.
        fn serve(wire: &[u8], cuts: &[usize], in_place: bool) -> (Vec<u8>, String) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut chunks = std::collections::VecDeque::new();
            let mut from = 0;
            for c in cuts {
                if c > from {
                    chunks.push_back(wire[from..c].to_vec());
                    from = c;
                }
            }
            let stream = Chunked {
                chunks,
                written: Vec::new(),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut conn = Connection::new(stream, 300);
                let end = loop {
                    let got = conn
                        .recv_or_answer::<Request>(|body, out| {
                            let Some(token) = crate::hot::verify_token(body).filter(|_| in_place)
                            else {
                                return false;
                            };
                            let v = verdict(token);
                            crate::hot::put_verified(
                                out,
                                v.status,
                                v.app.as_deref(),
                                v.id.as_deref(),
                            );
                            true
                        })
                        .await;
                    let reply = match got {
                        Ok(Some(Incoming::Answered)) => None,
                        Ok(Some(Incoming::Message(Request::Verify { token }))) => {
                            Some(Response::Verified(verdict(&token)))
                        }
                        Ok(Some(Incoming::Message(_))) => {
                            Some(Response::Error(crate::ErrorReply {
                                code: crate::ErrorCode::BadRequest,
                                message: "other".into(),
                            }))
                        }
                        Ok(None) => break "end".to_string(),
                        Err(e) => break format!("{e}"),
                    };
                    if let Some(r) = reply {
                        conn.feed(&r).await.unwrap();
                    }
                    if !conn.has_complete_frame() {
                        conn.flush().await.unwrap();
                    }
                };
                conn.flush().await.unwrap();
                (conn.into_inner().written, end)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Arbitrary bytes never panic the frame parser or the decoder.
            #[test]
            fn hostile_bytes_never_panic(bytes in vec(any::<u8>(), 0..600), cuts in vec(any::<usize>(), 0..6)) {
                let _ = decode::<Request>(&bytes);
                let _ = decode::<ClientHello>(&bytes);
                read_all(&bytes, &cuts);
            }

            /// Real frames with a few bytes overwritten never panic either.
            #[test]
            fn damaged_frames_never_panic(
                reqs in vec(request(), 1..5),
                edits in vec((any::<usize>(), any::<u8>()), 1..6),
                cuts in vec(any::<usize>(), 0..6),
            ) {
                let mut wire = frames(&reqs);
                for (at, b) in edits {
                    let n = wire.len();
                    wire[at % n] = b;
                }
                let (_, got) = read_all(&wire, &cuts);
                for r in got {
                    prop_assert_eq!(decode::<Request>(&encode(&r).unwrap()).unwrap(), r);
                }
            }

            /// The size the encoder reports is what it writes.
            #[test]
            fn encoded_len_is_what_encode_writes(req in request()) {
                prop_assert_eq!(encoded_len(&req).unwrap(), encode(&req).unwrap().len());
            }

            /// Verifies answered in place, pipelined, cut anywhere, among
            /// other requests and damaged or oversized frames, give the very
            /// bytes the decoding path gives, in the same order.
            #[test]
            fn answers_in_place_are_the_decoded_answers(
                reqs in vec(prop_oneof![
                    3 => "(?s).{0,300}".prop_map(|token| Request::Verify { token }),
                    1 => request(),
                ], 0..8),
                edits in vec((any::<usize>(), any::<u8>()), 0..2),
                cuts in vec(any::<usize>(), 0..8),
            ) {
                let mut wire = BytesMut::new();
                for r in &reqs {
                    encode_frame(&mut wire, r).unwrap();
                }
                let mut wire = wire.to_vec();
                for (at, b) in edits {
                    if !wire.is_empty() {
                        let n = wire.len();
                        wire[at % n] = b;
                    }
                }
                prop_assert_eq!(serve(&wire, &cuts, true), serve(&wire, &cuts, false));
            }

            /// Frames cut anywhere decode to what was sent, in order.
            #[test]
            fn frames_cut_anywhere_arrive_whole(reqs in vec(request(), 0..6), cuts in vec(any::<usize>(), 0..8)) {
                let (hello, got) = read_all(&frames(&reqs), &cuts);
                prop_assert_eq!(hello, Some(ClientHello::current()));
                prop_assert_eq!(got, reqs);
            }
        }
    }
}
