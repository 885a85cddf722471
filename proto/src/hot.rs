//! `Verify`, the hot path, read and answered in place: the token borrowed
//! from the request's frame, the answer written from borrowed parts into
//! the outgoing buffer. The bytes are bincode's own for [`Request::Verify`]
//! and [`Response::Verified`] (the tests compare them with the encoder's),
//! so a peer cannot tell; anything unusual in a frame is left to the
//! decoder.

use std::sync::OnceLock;

use bytes::{BufMut, BytesMut};

use crate::connection::encode;
use crate::message::{Request, Response, VerifyReply, VerifyStatus};

/// The bytes bincode puts before the token of a `Verify` request (the
/// variant's index).
fn verify_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    TAG.get_or_init(|| {
        let token = String::new();
        let mut v = encode(&Request::Verify { token }).unwrap_or_default();
        v.pop(); // the empty token's length
        v
    })
}

/// The bytes bincode puts before a `Verified` answer's fields.
fn verified_tag() -> &'static [u8] {
    static TAG: OnceLock<Vec<u8>> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut v = encode(&Response::Verified(VerifyReply::unknown())).unwrap_or_default();
        v.truncate(v.len().saturating_sub(3)); // status, no app, no id
        v
    })
}

/// The token of a frame body that is a `Verify` request, borrowed; `None`
/// for any other request, and for any form the decoder should judge.
pub fn verify_token(body: &[u8]) -> Option<&str> {
    let rest = body.strip_prefix(verify_tag())?;
    let (len, text) = match rest.split_first()? {
        (&n, text) if n < 251 => (usize::from(n), text),
        // bincode's u16 form, used from 251 on.
        (251, [lo, hi, text @ ..]) => {
            let n = u16::from_le_bytes([*lo, *hi]);
            (n >= 251).then_some((usize::from(n), text))?
        }
        _ => return None,
    };
    if text.len() != len {
        return None;
    }
    std::str::from_utf8(text).ok()
}

/// bincode's variable-length integer.
fn put_varint(out: &mut BytesMut, n: usize) {
    if n < 251 {
        out.put_u8(n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.put_u8(251);
        out.put_u16_le(n);
    } else if let Ok(n) = u32::try_from(n) {
        out.put_u8(252);
        out.put_u32_le(n);
    } else {
        out.put_u8(253);
        out.put_u64_le(n as u64);
    }
}

fn put_option_str(out: &mut BytesMut, s: Option<&str>) {
    match s {
        None => out.put_u8(0),
        Some(s) => {
            out.put_u8(1);
            put_varint(out, s.len());
            out.put_slice(s.as_bytes());
        }
    }
}

/// Appends the frame of `Response::Verified` with these fields, as
/// [`crate::Connection`] would queue it, allocating nothing (once `out`
/// has room).
pub fn put_verified(out: &mut BytesMut, status: VerifyStatus, app: Option<&str>, id: Option<&str>) {
    let start = out.len();
    out.put_u32(0);
    out.put_slice(verified_tag());
    out.put_u8(match status {
        VerifyStatus::Accepted => 0,
        VerifyStatus::Pending => 1,
        VerifyStatus::Unknown => 2,
    });
    put_option_str(out, app);
    put_option_str(out, id);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::decode;

    #[test]
    fn a_verify_request_is_read_as_the_decoder_reads_it() {
        for len in [0, 1, 164, 250, 251, 252, 1000, 8192] {
            let token: String = "ab".repeat(len).chars().take(len).collect();
            let body = encode(&Request::Verify {
                token: token.clone(),
            })
            .unwrap();
            assert_eq!(verify_token(&body), Some(token.as_str()), "{len}");
            // A byte more or less is the decoder's to refuse.
            assert_eq!(verify_token(&body[..body.len() - 1]), None);
            let mut longer = body.clone();
            longer.push(b'x');
            assert_eq!(verify_token(&longer), None);
        }
        let other = encode(&Request::Status).unwrap();
        assert_eq!(verify_token(&other), None);
        let mut bad = encode(&Request::Verify { token: "é".into() }).unwrap();
        let last = bad.len() - 1;
        bad[last] = 0xff; // not UTF-8
        assert_eq!(verify_token(&bad), None);
        assert!(decode::<Request>(&bad).is_err());
    }

    #[test]
    fn a_verified_answer_is_the_encoders_bytes() {
        let long = "f".repeat(300);
        for status in [
            VerifyStatus::Accepted,
            VerifyStatus::Pending,
            VerifyStatus::Unknown,
        ] {
            for (app, id) in [
                (None, None),
                (Some("T.com.a"), Some("0123abcd")),
                (Some(long.as_str()), Some("")),
            ] {
                let reply = Response::Verified(VerifyReply {
                    status,
                    app: app.map(str::to_string),
                    id: id.map(str::to_string),
                });
                let mut out = BytesMut::new();
                put_verified(&mut out, status, app, id);
                let body = encode(&reply).unwrap();
                assert_eq!(&out[4..], &body[..]);
                assert_eq!(&out[..4], &(body.len() as u32).to_be_bytes());
            }
        }
    }

    /// A frame body built from a verify: cut, lengthened, a length in each
    /// of bincode's forms (canonical or not), bytes flipped.
    fn hostile_body() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let token = prop_oneof![
            "[A-Za-z0-9+/=]{0,300}",
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ];
        (
            token,
            0u8..6,
            proptest::collection::vec(any::<u8>(), 0..4),
            any::<proptest::sample::Index>(),
            any::<u8>(),
        )
            .prop_map(|(token, how, extra, at, byte)| {
                let tag = verify_tag().to_vec();
                let mut body = tag.clone();
                let n = token.len();
                match how {
                    // 251 forms: u16, u32, u64, whatever the length.
                    1 => {
                        body.push(251);
                        body.extend_from_slice(&(n as u16).to_le_bytes());
                    }
                    2 => {
                        body.push(252);
                        body.extend_from_slice(&(n as u32).to_le_bytes());
                    }
                    3 => {
                        body.push(253);
                        body.extend_from_slice(&(n as u64).to_le_bytes());
                    }
                    _ => {
                        body = encode(&Request::Verify {
                            token: token.clone(),
                        })
                        .unwrap()
                    }
                }
                if how < 4 {
                    body.extend_from_slice(token.as_bytes());
                }
                match how {
                    4 => body.extend_from_slice(&extra),
                    5 => {
                        let i = at.index(body.len());
                        body[i] = byte;
                    }
                    _ => {}
                }
                body
            })
    }

    proptest::proptest! {
        /// Whatever the in-place reading takes, the decoder reads the same.
        #[test]
        fn the_in_place_reading_never_disagrees_with_the_decoder(body in hostile_body()) {
            if let Some(token) = verify_token(&body) {
                let decoded = decode::<Request>(&body);
                proptest::prop_assert!(
                    matches!(&decoded, Ok(Request::Verify { token: t }) if t == token),
                    "{body:?}: in place {token:?}, decoded {decoded:?}"
                );
            }
        }
    }
}
