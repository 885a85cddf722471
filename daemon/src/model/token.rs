//! The 4D session token: base64 (standard alphabet, no padding) of the
//! compact JSON `{"appNameID":…,"id":…,"teamID":…}` in that key order.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use std::borrow::Cow;

use serde::Deserialize;

use super::json_object::ObjectOnly;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    #[serde(rename = "appNameID")]
    pub app_id: String,
    pub id: String,
    /// `""` for Android apps, which have no team.
    #[serde(rename = "teamID", default)]
    pub team_id: String,
}

/// Builds the token exactly as 4D does.
pub fn encode(app_id: &str, session_id: &str, team_id: Option<&str>) -> String {
    // serde_json escapes exactly like 4D's JSON Stringify for these strings.
    let json = format!(
        "{{\"appNameID\":{},\"id\":{},\"teamID\":{}}}",
        json_string(app_id),
        json_string(session_id),
        json_string(team_id.unwrap_or(""))
    );
    STANDARD_NO_PAD.encode(json)
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

const INDIFFERENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// What a token says, borrowed from its decoded bytes (the `verify` path).
#[derive(Debug, Deserialize)]
pub struct ClaimsRef<'a> {
    #[serde(rename = "appNameID", borrow)]
    pub app_id: Cow<'a, str>,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(rename = "teamID", default, borrow)]
    pub team_id: Cow<'a, str>,
}

impl ClaimsRef<'_> {
    /// The app folder this token belongs to.
    pub fn folder(&self) -> String {
        super::names::app_folder(&self.app_id, Some(&self.team_id))
    }
}

/// Decodes a token in any of the forms clients send: padded or not,
/// standard or URL-safe alphabet, with or without a leading `Bearer ` (the
/// `Authorization` header's value). `None` for anything that is not a token.
pub fn decode(token: &str) -> Option<Claims> {
    with_claims(token, |c| Claims {
        app_id: c.app_id.into_owned(),
        id: c.id.into_owned(),
        team_id: c.team_id.into_owned(),
    })
}

/// Decodes a token and hands its claims to `f`, without allocating for the
/// usual token (decoded on the stack, strings borrowed). 4D's own form —
/// unpadded base64 of the compact JSON with plain ASCII strings — is read
/// by hand ([`decode_plain`], [`plain_claims`]); any other form goes
/// through the base64 engines and serde, which the hand-read form agrees
/// with (tests compare them).
pub fn with_claims<T>(token: &str, f: impl FnOnce(ClaimsRef<'_>) -> T) -> Option<T> {
    let token = strip_bearer(token.trim());
    if token.is_empty() || token.len() > mobile_session_proto::MAX_TOKEN_LEN {
        return None;
    }
    thread_local! {
        // Reused: no allocation and no zero-filling per token.
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 1024]);
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let need = token.len().div_ceil(4) * 3;
        if buf.len() < need {
            buf.resize(need, 0);
        }
        let bytes = token.as_bytes();
        let n = match decode_plain(bytes, &STANDARD_VALUES, &mut buf)
            .or_else(|| decode_plain(bytes, &URL_SAFE_VALUES, &mut buf))
        {
            Some(n) => n,
            None => {
                let engine = if bytes.iter().any(|b| *b == b'-' || *b == b'_') {
                    &URL_SAFE_ANY
                } else {
                    &STANDARD_ANY
                };
                engine.decode_slice(token, &mut buf[..]).ok()?
            }
        };
        // UTF-8 first: from_slice does not check the strings it skips.
        let json = std::str::from_utf8(&buf[..n]).ok()?;
        let claims = match plain_claims(json) {
            Some(c) => c,
            None => {
                // An object only: serde would also read `["app","id","team"]`.
                let ObjectOnly(claims): ObjectOnly<ClaimsRef> = serde_json::from_str(json).ok()?;
                claims
            }
        };
        Some(f(claims))
    })
}

/// The value of each byte in a base64 alphabet (`0xff`: not in it).
const fn values(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const STANDARD_VALUES: [u8; 256] =
    values(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const URL_SAFE_VALUES: [u8; 256] =
    values(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

/// Unpadded base64 of one alphabet decoded into `out` (at least 3 bytes
/// per 4 of `text`), as the engines decode it (trailing bits allowed);
/// `None` for a byte not of the alphabet (padding included) or a length
/// that base64 cannot have, which the engines then judge.
fn decode_plain(text: &[u8], values: &[u8; 256], out: &mut [u8]) -> Option<usize> {
    let tail = text.len() % 4;
    if tail == 1 {
        return None;
    }
    let whole = text.len() - tail;
    let n = whole / 4 * 3 + tail.saturating_sub(1);
    let out = out.get_mut(..n)?;
    // A byte outside the alphabet is 0xff: its high bit shows in `seen`.
    let mut seen = 0u8;
    let (body, rest) = text.split_at(whole);
    for (c, o) in body.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let [a, b, c, d] = [c[0], c[1], c[2], c[3]].map(|x| values[usize::from(x)]);
        seen |= a | b | c | d;
        let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        o[0] = (v >> 16) as u8;
        o[1] = (v >> 8) as u8;
        o[2] = v as u8;
    }
    let mut value = |c: u8| {
        let v = values[usize::from(c)];
        seen |= v;
        u32::from(v)
    };
    // 2 characters left are 1 byte, 3 are 2.
    if let [a, b, more @ ..] = rest {
        let c = more.first().map_or(0, |&c| value(c));
        let v = value(*a) << 18 | value(*b) << 12 | c << 6;
        let last = &mut out[whole / 4 * 3..];
        last.copy_from_slice(&v.to_be_bytes()[1..1 + last.len()]);
    }
    (seen & 0x80 == 0).then_some(n)
}

/// The claims of 4D's own compact form, `{"appNameID":"…","id":"…",
/// "teamID":"…"}` with printable ASCII strings free of escapes, borrowed;
/// `None` for any other form (serde reads those).
fn plain_claims(json: &str) -> Option<ClaimsRef<'_>> {
    fn plain(s: &str) -> Option<(Cow<'_, str>, &str)> {
        let end = s.find('"')?;
        let text = &s[..end];
        // No early exit: the compiler checks many bytes at a time.
        let odd = text.bytes().fold(false, |odd, b| {
            odd | !(0x20..0x7f).contains(&b) | (b == b'\\')
        });
        (!odd).then(|| (Cow::Borrowed(text), &s[end + 1..]))
    }
    let (app_id, rest) = plain(json.strip_prefix("{\"appNameID\":\"")?)?;
    let (id, rest) = plain(rest.strip_prefix(",\"id\":\"")?)?;
    let (team_id, rest) = plain(rest.strip_prefix(",\"teamID\":\"")?)?;
    (rest == "}").then_some(ClaimsRef {
        app_id,
        id,
        team_id,
    })
}

/// `token` without a leading `Bearer ` (any case), as an `Authorization`
/// header carries it.
pub fn strip_bearer(token: &str) -> &str {
    match token.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => token[7..].trim_start(),
        _ => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "eyJhcHBOYW1lSUQiOiJjb20uY29udGFjdEFwcC5Db250YWN0IiwiaWQiOiI3MDIzZDkyMDUwNzQxOTlkMWMxNmZjMDBkMjQzNTRlNzc4MTM3Njc1IiwidGVhbUlEIjoiVVRUN1ZEWDhXNSJ9";

    #[test]
    fn seed_token_round_trip() {
        let t = encode(
            "com.contactApp.Contact",
            "7023d9205074199d1c16fc00d24354e778137675",
            Some("UTT7VDX8W5"),
        );
        assert_eq!(t, SEED);
        let c = decode(SEED).unwrap();
        assert_eq!(c.app_id, "com.contactApp.Contact");
        assert_eq!(c.team_id, "UTT7VDX8W5");
        assert_eq!(
            with_claims(SEED, |c| c.folder()).unwrap(),
            "UTT7VDX8W5.com.contactApp.Contact"
        );
    }

    #[test]
    fn android_token_has_empty_team() {
        let t = encode(
            "com.sample.tasks",
            "1818e811892f902bd23f0824128b2f330c5c7fd0",
            None,
        );
        assert_eq!(t, "eyJhcHBOYW1lSUQiOiJjb20uc2FtcGxlLnRhc2tzIiwiaWQiOiIxODE4ZTgxMTg5MmY5MDJiZDIzZjA4MjQxMjhiMmYzMzBjNWM3ZmQwIiwidGVhbUlEIjoiIn0");
        assert_eq!(with_claims(&t, |c| c.folder()).unwrap(), "com.sample.tasks");
    }

    #[test]
    fn padded_and_url_safe_forms() {
        // An id chosen so that the standard encoding contains '+' or '/'.
        let t = encode("a.b", "ff>>??", Some("T"));
        let padded = format!("{t}{}", "=".repeat((4 - t.len() % 4) % 4));
        let url = t.replace('+', "-").replace('/', "_");
        let bearer = format!("Bearer {url}");
        let lower = format!("bearer  {padded} ");
        for form in [&t, &padded, &url, &bearer, &lower] {
            assert_eq!(decode(form).unwrap().id, "ff>>??", "{form}");
        }
    }

    #[test]
    fn garbage_is_not_a_token() {
        // `["com.x","abcd","T"]`: the claims as an array, not an object.
        let array = STANDARD_NO_PAD.encode(r#"["com.x","abcd","T"]"#);
        // Not UTF-8 in a key nobody reads (found by the token fuzz target).
        let latin1 =
            STANDARD_NO_PAD.encode(b"{\"appNameID\":\"a.b\",\"id\":\"abcd\",\"x\":\"\xE9\"}");
        for bad in [
            "",
            "   ",
            "!!!!",
            "aGVsbG8",
            "W10",
            "Bearer",
            "Bearer ",
            "Bearer é",
            &array,
            &latin1,
            &"A".repeat(2 << 20),
        ] {
            assert_eq!(decode(bad), None, "{bad:.20}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any string is a token or not; none panics the decoder.
            #[test]
            fn any_string_never_panics(t in prop_oneof!["(?s).{0,64}", "[A-Za-z0-9+/=_ -]{0,200}"]) {
                let a = decode(&t);
                let b = with_claims(&t, |c| (c.app_id.into_owned(), c.id.into_owned(), c.team_id.into_owned()));
                prop_assert_eq!(a.map(|c| (c.app_id, c.id, c.team_id)), b);
            }

            /// The hand-written decoder agrees with the engines wherever it
            /// answers.
            #[test]
            fn plain_decoding_agrees_with_the_engines(t in "[A-Za-z0-9+/_-]{0,40}") {
                let mut out = [0u8; 64];
                for (values, engine) in [(&STANDARD_VALUES, &STANDARD_ANY), (&URL_SAFE_VALUES, &URL_SAFE_ANY)] {
                    if let Some(n) = decode_plain(t.as_bytes(), values, &mut out) {
                        prop_assert_eq!(engine.decode(&t).ok(), Some(out[..n].to_vec()));
                    }
                }
            }

            /// The hand-read claims are serde's wherever they are read.
            #[test]
            fn plain_claims_agree_with_serde(app in "[ -~]{0,12}", id in "[ -~]{0,12}", team in "[ -~]{0,6}") {
                let json = format!("{{\"appNameID\":{},\"id\":{},\"teamID\":{}}}", json_string(&app), json_string(&id), json_string(&team));
                let ObjectOnly(want): ObjectOnly<ClaimsRef> = serde_json::from_str(&json).unwrap();
                if let Some(c) = plain_claims(&json) {
                    prop_assert_eq!((&c.app_id, &c.id, &c.team_id), (&want.app_id, &want.id, &want.team_id));
                } else {
                    // Only an escape sends it to serde.
                    prop_assert!(json.contains('\\'));
                }
            }

            /// 4D's token decodes to its claims in every accepted form.
            #[test]
            fn encode_decode_round_trip(
                app in "(?s).{0,16}",
                id in "(?s).{0,16}",
                team in proptest::option::of("(?s).{0,8}"),
            ) {
                let t = encode(&app, &id, team.as_deref());
                let want = Claims { app_id: app, id, team_id: team.unwrap_or_default() };
                let padded = format!("{t}{}", "=".repeat((4 - t.len() % 4) % 4));
                let url = t.replace('+', "-").replace('/', "_");
                for form in [&t, &padded, &url, &format!(" {t}\n")] {
                    prop_assert_eq!(decode(form), Some(want.clone()), "{}", form);
                }
            }
        }
    }
}
