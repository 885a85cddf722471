//! `verify` answers from the live view through every state change, treats
//! every malformed token as `unknown`, and pipelines.

use crate::common::*;
use mobile_session_proto::VerifyStatus;
use serde_json::json;

fn code(d: &Daemon, token: &str) -> i32 {
    d.cli(&["verify", token]).status.code().unwrap()
}

#[test]
fn verify_through_every_state_change() {
    let d = Daemon::start();
    assert_eq!(code(&d, SEED_TOKEN), 0);
    assert_eq!(
        d.json(&["verify", SEED_TOKEN]),
        json!({"status": "accepted", "app": IOS, "id": SEED_ID})
    );
    assert_eq!(code(&d, IPAD_TOKEN), 3);
    assert_eq!(d.json_code(&["verify", IPAD_TOKEN]).0["status"], "pending");
    d.ok(&["accept", IPAD_ID]);
    assert_eq!(code(&d, IPAD_TOKEN), 3, "accepted on disk, not pushed yet");
    d.ok(&["push"]);
    assert_eq!(code(&d, IPAD_TOKEN), 0);
    d.ok(&["set-status", "pending", IPAD_ID, "--push"]);
    assert_eq!(code(&d, IPAD_TOKEN), 3);
    d.ok(&["delete", IPAD_ID]);
    assert_eq!(
        code(&d, IPAD_TOKEN),
        3,
        "deleted but not pushed: still live"
    );
    d.ok(&["accept", SEED_ID]);
    d.ok(&["delete", SEED_ID]);
    assert_eq!(
        code(&d, SEED_TOKEN),
        0,
        "deleted but not pushed: still accepted"
    );
    d.ok(&["push"]);
    assert_eq!(code(&d, IPAD_TOKEN), 4);
    assert_eq!(code(&d, SEED_TOKEN), 4);
    assert_eq!(
        d.json_code(&["verify", SEED_TOKEN]).0,
        json!({"status": "unknown", "app": null, "id": null})
    );
}

#[test]
fn malformed_tokens_are_unknown_not_errors() {
    let d = Daemon::start();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // argv strings are capped at 128 KiB by Linux; bigger ones are tested below.
    let huge = "A".repeat(120 * 1024);
    let other_team = b64(&format!(
        "{{\"appNameID\":\"com.contactApp.Contact\",\"id\":\"{SEED_ID}\",\"teamID\":\"OTHER\"}}"
    ));
    let other_app = b64(&format!(
        "{{\"appNameID\":\"com.other\",\"id\":\"{SEED_ID}\",\"teamID\":\"UTT7VDX8W5\"}}"
    ));
    let cases = [
        "".to_string(),
        "not base64 at all!".to_string(),
        b64("not json"),
        b64("[1,2,3]"),
        b64("{\"appNameID\":5}"),
        other_team,
        other_app,
        huge,
        "%%%%".to_string(),
    ];
    for t in &cases {
        let out = d.cli(&["verify", t]);
        assert_eq!(out.status.code(), Some(4), "token {:.40}", t);
        assert_eq!(stdout(&out).trim(), "unknown");
    }
    d.ok(&["status"]);
}

#[tokio::test]
async fn a_one_mebibyte_token_is_unknown() {
    let d = Daemon::start();
    let c = mobile_session::Client::connect(&d.socket).await.unwrap();
    let huge = "A".repeat(1024 * 1024);
    assert_eq!(c.verify(&huge).await.unwrap().status, VerifyStatus::Unknown);
    // Straight to the daemon, past the client's own length check.
    let r = c
        .request(&mobile_session_proto::Request::Verify {
            token: "QUFB".repeat(200_000),
        })
        .await
        .unwrap();
    match r {
        mobile_session_proto::Response::Verified(v) => assert_eq!(v.status, VerifyStatus::Unknown),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.verify(SEED_TOKEN).await.unwrap().status,
        VerifyStatus::Accepted
    );
}

#[test]
fn padded_and_url_safe_forms_are_accepted() {
    let d = Daemon::start();
    // The seed token's length is a multiple of 4 already; the Android one is not.
    let padded = format!(
        "{ANDROID_TOKEN}{}",
        "=".repeat((4 - ANDROID_TOKEN.len() % 4) % 4)
    );
    assert_ne!(padded, ANDROID_TOKEN);
    assert_eq!(code(&d, &padded), 0);
    use base64::Engine;
    let claims = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(ANDROID_TOKEN)
        .unwrap();
    let url = base64::engine::general_purpose::URL_SAFE.encode(&claims);
    assert_eq!(code(&d, &url), 0);
    assert_eq!(
        code(&d, &format!("  {ANDROID_TOKEN}\n")),
        0,
        "surrounding blanks"
    );
}

#[tokio::test]
async fn ten_thousand_pipelined_verifies_answer_in_order() {
    let d = Daemon::start();
    let c = mobile_session::Client::connect(&d.socket).await.unwrap();
    let pattern = [SEED_TOKEN, IPAD_TOKEN, "junk", ANDROID_TOKEN];
    let tokens: Vec<String> = (0..10_000).map(|i| pattern[i % 4].to_string()).collect();
    let answers = c.verify_many(&tokens).await.unwrap();
    assert_eq!(answers.len(), 10_000);
    for (i, a) in answers.iter().enumerate() {
        let want = [
            VerifyStatus::Accepted,
            VerifyStatus::Pending,
            VerifyStatus::Unknown,
            VerifyStatus::Accepted,
        ][i % 4];
        assert_eq!(a.status, want, "answer {i}");
    }
    assert_eq!(answers[3].id.as_deref(), Some(ANDROID_ID));
    // The connection is still usable afterwards.
    assert_eq!(
        c.verify(SEED_TOKEN).await.unwrap().status,
        VerifyStatus::Accepted
    );
}
