//! The 4D token: `token::decode` and `with_claims` on any string (checked
//! against a plain base64 + `serde_json::Value` reading), and
//! `encode` → `decode` round trips in every accepted form.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use libfuzzer_sys::fuzz_target;
use mobile_session_proto::MAX_TOKEN_LEN;
use mobile_sessiond::model::json_span::lone_surrogate;
use mobile_sessiond::model::names::app_folder;
use mobile_sessiond::model::token::{decode, encode, with_claims, Claims};
use serde_json::Value;

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// Whatever a client sends as a bearer token.
    Raw(&'a str),
    /// A token as 4D builds it.
    Built {
        app_id: &'a str,
        id: &'a str,
        team_id: Option<&'a str>,
    },
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

/// What a token says, read the plain way: base64 in either alphabet, then a
/// JSON object with string `appNameID` and `id`, and `teamID` a string or
/// absent. `Some(None)` when it cannot say.
fn reference(token: &str) -> Option<Option<Claims>> {
    let t = token.trim();
    if t.is_empty() || t.len() > MAX_TOKEN_LEN {
        return None;
    }
    let abc = if t.contains(['-', '_']) {
        &alphabet::URL_SAFE
    } else {
        &alphabet::STANDARD
    };
    let bytes = GeneralPurpose::new(abc, LENIENT).decode(t).ok()?;
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        // The typed reading skips a key it does not know, even one holding
        // an escape a `Value` refuses (half a surrogate pair): undecided.
        Err(_) if std::str::from_utf8(&bytes).is_ok_and(|s| lone_surrogate(s).is_some()) => {
            return Some(None)
        }
        Err(_) => return None,
    };
    let o = v.as_object()?;
    let team_id = match o.get("teamID") {
        None => String::new(),
        Some(t) => t.as_str()?.to_string(),
    };
    Some(Some(Claims {
        app_id: o.get("appNameID")?.as_str()?.to_string(),
        id: o.get("id")?.as_str()?.to_string(),
        team_id,
    }))
}

fn check_raw(token: &str) {
    let claims = decode(token);
    let borrowed = with_claims(token, |c| Claims {
        app_id: c.app_id.into_owned(),
        id: c.id.into_owned(),
        team_id: c.team_id.into_owned(),
    });
    assert_eq!(claims, borrowed, "decode and with_claims agree");
    let Some(c) = claims else { return };
    // The plain reading may also accept what the typed one refuses (a key
    // given twice), never the other way round.
    match reference(token) {
        Some(None) => {}
        r => assert_eq!(r, Some(Some(c.clone())), "a token decodes to what it says"),
    }
    let folder = with_claims(token, |c| c.folder()).expect("decoded above");
    assert_eq!(folder, app_folder(&c.app_id, Some(&c.team_id)));
    // 4D's form of the same claims says the same.
    let again = encode(&c.app_id, &c.id, Some(&c.team_id));
    if again.len() <= MAX_TOKEN_LEN {
        assert_eq!(decode(&again), Some(c));
    }
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Raw(token) => check_raw(token),
    Input::Built {
        app_id,
        id,
        team_id,
    } => {
        let t = encode(app_id, id, team_id);
        let want = Claims {
            app_id: app_id.to_string(),
            id: id.to_string(),
            team_id: team_id.unwrap_or("").to_string(),
        };
        let padded = format!("{t}{}", "=".repeat((4 - t.len() % 4) % 4));
        let url = t.replace('+', "-").replace('/', "_");
        let spaced = format!(" {t}\r\n");
        for form in [&t, &padded, &url, &spaced] {
            let fits = form.trim().len() <= MAX_TOKEN_LEN;
            assert_eq!(decode(form), fits.then(|| want.clone()), "{form}");
            check_raw(form);
        }
    }
});
