//! [`Connection`] owns the framing: a length prefix plus bincode 2.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

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

/// Queued output past which `feed` writes before queueing more.
const WRITE_HIGH_WATER: usize = 128 * 1024;

/// A framed stream of messages in both directions.
pub struct Connection<S> {
    framed: Framed<S, LengthDelimitedCodec>,
    max_incoming: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// `max_incoming` bounds the frames this side accepts; the peer's own
    /// limit is its business.
    pub fn new(stream: S, max_incoming: usize) -> Self {
        let framed = LengthDelimitedCodec::builder()
            .max_frame_length(max_incoming)
            .new_framed(stream);
        Self {
            framed,
            max_incoming,
        }
    }

    /// Receives one message; `Ok(None)` when the peer closed cleanly.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        match self.framed.next().await {
            None => Ok(None),
            Some(Ok(body)) => decode(&body).map(Some),
            Some(Err(e)) => Err(self.io_error(e)),
        }
    }

    /// Queues one message without flushing (for pipelining). It is encoded
    /// straight into the write buffer: no intermediate allocation.
    pub async fn feed<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        use bytes::BufMut;
        // Past the high-water mark, write out what is queued first.
        if self.framed.write_buffer().len() >= WRITE_HIGH_WATER {
            SinkExt::<Bytes>::flush(&mut self.framed)
                .await
                .map_err(|e| self.io_error(e))?;
        }
        let buf = self.framed.write_buffer_mut();
        let start = buf.len();
        buf.put_u32(0);
        let mut w = buf.writer();
        let written = bincode::serde::encode_into_std_write(msg, &mut w, config());
        let buf = w.into_inner();
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

    pub async fn flush(&mut self) -> Result<(), FrameError> {
        SinkExt::<Bytes>::flush(&mut self.framed)
            .await
            .map_err(|e| self.io_error(e))
    }

    /// Sends one message and flushes it.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), FrameError> {
        self.feed(msg).await?;
        self.flush().await
    }

    /// True when the next request is already buffered whole: the daemon
    /// then delays its flush so pipelined answers share one write.
    pub fn has_complete_frame(&self) -> bool {
        let buf = self.framed.read_buffer();
        match buf.get(..4) {
            Some(len) => {
                let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
                buf.len() >= 4 + len
            }
            None => false,
        }
    }

    /// The framed transport, for callers that split it into a sink and a
    /// stream to write and read at the same time.
    pub fn framed_mut(&mut self) -> &mut Framed<S, LengthDelimitedCodec> {
        &mut self.framed
    }

    pub fn into_inner(self) -> S {
        self.framed.into_inner()
    }

    fn io_error(&self, e: std::io::Error) -> FrameError {
        // LengthDelimitedCodec reports an oversized frame as InvalidData.
        if e.kind() == std::io::ErrorKind::InvalidData {
            FrameError::TooLong {
                max: self.max_incoming,
            }
        } else {
            FrameError::Io(e)
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

    #[test]
    fn hostile_vec_length_fails_without_allocating() {
        // Variant index of Request::Delete, then a varint length of u64::MAX.
        let mut body = vec![6u8, 0xFF];
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<Request>(&body).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut body = encode(&Request::Apps).unwrap();
        body.push(0);
        assert!(decode::<Request>(&body).is_err());
    }
}
