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
/// usual token (decoded on the stack, strings borrowed).
pub fn with_claims<T>(token: &str, f: impl FnOnce(ClaimsRef<'_>) -> T) -> Option<T> {
    let token = strip_bearer(token.trim());
    if token.is_empty() || token.len() > mobile_session_proto::MAX_TOKEN_LEN {
        return None;
    }
    let engine = if token.bytes().any(|b| b == b'-' || b == b'_') {
        &URL_SAFE_ANY
    } else {
        &STANDARD_ANY
    };
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
        let n = engine.decode_slice(token, &mut buf[..]).ok()?;
        // UTF-8 first: from_slice does not check the strings it skips.
        let json = std::str::from_utf8(&buf[..n]).ok()?;
        // An object only: serde would also read `["app","id","team"]`.
        let ObjectOnly(claims): ObjectOnly<ClaimsRef> = serde_json::from_str(json).ok()?;
        Some(f(claims))
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
