//! A session file's bytes through everything the daemon does with them
//! without I/O: `session::validate` (checked against a plain
//! `serde_json::Value` reading of 4D's rules), `with_status` (the result
//! differs from the input only in `status`), `app::app_label`, and
//! `json_span::{top_level_value, minify}`.
//!
//! Input: byte 0 picks the location and the new status, the rest is the
//! file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobile_session_proto::Status;
use mobile_sessiond::model::app::{app_label, AppLabel};
use mobile_sessiond::model::json_span::{lone_surrogate, minify, top_level_value};
use mobile_sessiond::model::names::app_folder;
use mobile_sessiond::model::session::{
    claims_hash, content_hash, strip_bom, validate, with_status, SessionRecord,
};
use mobile_sessiond::model::token;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let status = if mode & 1 == 0 {
        Status::Accepted
    } else {
        Status::Pending
    };
    let text = std::str::from_utf8(strip_bom(bytes)).ok();
    let doc = text.and_then(|t| serde_json::from_str::<Value>(t).ok());
    let obj = doc.as_ref().and_then(Value::as_object);

    // Where the file sits: where its content says it belongs (so the
    // token check is reached), or the sample's folder.
    let (folder, name) = match (mode >> 1) % 3 {
        0 => location_of(obj),
        1 => (
            "UTT7VDX8W5.com.contactApp.Contact".to_string(),
            "7023d9205074199d1c16fc00d24354e778137675".to_string(),
        ),
        // Ids match whatever their case.
        _ => {
            let (folder, name) = location_of(obj);
            (folder, name.to_ascii_uppercase())
        }
    };

    let got = validate(&folder, &name, bytes);
    let want = reference_validate(&folder, &name, text, obj);
    match (&got, &want) {
        (Ok(r), Ok(w)) => same_record(r, w, text.unwrap_or_default()),
        (Err(e), Err(code)) => assert_eq!(e.code(), *code, "{e:?}"),
        _ => panic!("validate says {got:?}, 4D's rules say {want:?}"),
    }

    // app_label stays lenient (labels only name things): a lone surrogate
    // escape in a field it skips is let through, where a `Value` refuses it.
    let lenient = doc.is_none() && text.is_some_and(|t| lone_surrogate(t).is_some());
    if !lenient {
        assert_eq!(app_label(bytes), reference_label(obj), "app_label");
    }

    if let Some(t) = text {
        let m = minify(t);
        assert!(m.len() <= t.len());
        assert_eq!(minify(&m), m, "minify is idempotent");
        if let Some(d) = &doc {
            let again: Value = serde_json::from_str(&m).expect("minified JSON parses");
            assert_eq!(&again, d, "minify changed the value");
        }
        for key in ["status", "token", "application", "x"] {
            let _ = top_level_value(t, key);
        }
        if let Some(o) = obj {
            for (key, value) in o.iter().take(8) {
                let span = top_level_value(t, key).expect("a member of a valid object is found");
                let found: Value = serde_json::from_str(&t[span]).expect("the span is a value");
                assert_eq!(&found, value, "span of {key:?}");
            }
        }
    }

    check_with_status(bytes, obj, status, &folder, &name, &got);
});

fn str_at<'a>(obj: &'a Map<String, Value>, outer: &str, inner: Option<&str>) -> Option<&'a str> {
    let v = obj.get(outer)?;
    match inner {
        Some(k) => v.as_object()?.get(k)?.as_str(),
        None => v.as_str(),
    }
}

fn location_of(obj: Option<&Map<String, Value>>) -> (String, String) {
    let Some(o) = obj else {
        return ("x".into(), "x".into());
    };
    let app = str_at(o, "application", Some("id")).unwrap_or("x");
    let team = str_at(o, "team", Some("id"));
    let id = str_at(o, "session", Some("id")).unwrap_or("x");
    (app_folder(app, team), id.to_string())
}

/// 4D's rules read off a `Value`: codes 2, 3, 1, 4 in that order.
fn reference_validate(
    folder: &str,
    name: &str,
    text: Option<&str>,
    obj: Option<&Map<String, Value>>,
) -> Result<SessionRecord, u8> {
    let (Some(text), Some(o)) = (text, obj) else {
        return Err(2);
    };
    let app_id = str_at(o, "application", Some("id")).ok_or(3u8)?;
    let session_id = str_at(o, "session", Some("id")).ok_or(3u8)?;
    let tok = str_at(o, "token", None).ok_or(3u8)?;
    let status = str_at(o, "status", None)
        .and_then(Status::parse)
        .ok_or(3u8)?;
    let team_id = str_at(o, "team", Some("id"));
    if folder != app_folder(app_id, team_id) || !name.eq_ignore_ascii_case(session_id) {
        return Err(1);
    }
    let claims = token::decode(tok).ok_or(4u8)?;
    if claims.app_id != app_id
        || !claims.id.eq_ignore_ascii_case(session_id)
        || claims.team_id != team_id.unwrap_or("")
    {
        return Err(4);
    }
    Ok(SessionRecord {
        id: session_id.into(),
        status,
        device_id: str_at(o, "device", Some("id")).map(Into::into),
        email: str_at(o, "email", None).map(Into::into),
        device: o
            .get("device")
            .map_or("null".to_string(), Value::to_string)
            .into(),
        hash: content_hash(text.as_bytes()),
        claims: claims_hash(app_id, team_id.unwrap_or("")),
    })
}

fn same_record(got: &SessionRecord, want: &SessionRecord, text: &str) {
    assert_eq!(got.id, want.id);
    assert_eq!(got.status, want.status);
    assert_eq!(got.device_id, want.device_id);
    assert_eq!(got.email, want.email);
    assert_eq!(got.hash, content_hash(text.as_bytes()));
    // The same JSON, though escapes may be written differently.
    let a: Value = serde_json::from_str(&got.device).expect("device is JSON");
    let b: Value = serde_json::from_str(&want.device).expect("device is JSON");
    assert_eq!(a, b, "device");
}

fn reference_label(obj: Option<&Map<String, Value>>) -> Option<AppLabel> {
    let o = obj?;
    Some(AppLabel {
        app_id: str_at(o, "application", Some("id"))?.to_string(),
        name: str_at(o, "application", Some("name")).map(str::to_string),
        team_id: str_at(o, "team", Some("id"))
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    })
}

fn check_with_status(
    bytes: &[u8],
    obj: Option<&Map<String, Value>>,
    status: Status,
    folder: &str,
    name: &str,
    before: &Result<SessionRecord, mobile_sessiond::model::session::Invalid>,
) {
    let out = with_status(bytes, status);
    // Outside well-formed JSON the splice may or may not find a status:
    // the daemon only rewrites valid files.
    let Some(o) = obj else { return };
    assert_eq!(out.is_some(), o.contains_key("status"), "status located");
    let Some(out) = out else { return };

    // Only the status value changed: same BOM, same bytes around it.
    let bom = bytes.len() - strip_bom(bytes).len();
    assert_eq!(&out[..bom], &bytes[..bom]);
    let text = std::str::from_utf8(&bytes[bom..]).expect("checked");
    let span = top_level_value(text, "status").expect("found above");
    let old: Value = serde_json::from_str(&text[span.clone()]).expect("a value");
    assert_eq!(Some(&old), o.get("status"));
    let new_lit = format!("\"{status}\"");
    assert_eq!(out.len(), bytes.len() - span.len() + new_lit.len());
    assert_eq!(&out[..bom + span.start], &bytes[..bom + span.start]);
    assert_eq!(
        &out[bom + span.start..bom + span.start + new_lit.len()],
        new_lit.as_bytes()
    );
    assert_eq!(
        &out[bom + span.start + new_lit.len()..],
        &bytes[bom + span.end..]
    );

    // Parsed again, it is the same document but for the status.
    let out_text = std::str::from_utf8(strip_bom(&out)).expect("still UTF-8");
    let mut expected = o.clone();
    expected.insert("status".into(), Value::String(status.as_str().into()));
    let parsed: Value = serde_json::from_str(out_text).expect("still JSON");
    assert_eq!(parsed.as_object(), Some(&expected));

    if let Ok(rec) = before {
        let after = validate(folder, name, &out).expect("still a valid session");
        assert_eq!(after.status, status);
        assert_eq!(
            (&after.id, &after.device_id, &after.email, &after.device),
            (&rec.id, &rec.device_id, &rec.email, &rec.device)
        );
    }
}
