//! Sign-in: the first call creates the session file and makes it live; later
//! calls reuse it; the policy decides accepted or pending.

use crate::common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;

/// The written file passes every validity rule (a push reports nothing).
fn assert_valid_file(d: &Daemon, app: &str, id: &str) -> Value {
    let path = d.file(app, id);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("password"),
        "password stored: {text}"
    );
    // The folder's group (the 4D server's) reads and writes it.
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o660
    );
    let p = d.json(&["push", "--full"]);
    assert_eq!(p["invalid"], json!([]), "{p}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn ios_first_sign_in_creates_a_live_session() {
    let d = Daemon::start_open("");
    let r = auth_from(
        &d,
        &ios_body("NEW-DEVICE-1", "zoe@example.com"),
        Some("::ffff:10.0.0.7"),
    );
    let id = r["id"].as_str().unwrap();
    assert_eq!(id.len(), 40);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(r["status"], "accepted");
    let token = r["token"].as_str().unwrap();
    assert!(r["statusText"].is_string());
    // Live at once, without a push.
    assert_eq!(stdout(&d.cli(&["verify", token])).trim(), "accepted");
    let doc = assert_valid_file(&d, IOS, id);
    assert_eq!(doc["token"], token);
    assert_eq!(doc["session"]["id"], id);
    assert_eq!(doc["session"]["ip"], "::ffff:10.0.0.7");
    assert_eq!(doc["team"]["id"], "UTT7VDX8W5");
    assert_eq!(doc["send"], "link");
    assert_eq!(doc["email"], "zoe@example.com");
    assert_eq!(doc["device"]["id"], "NEW-DEVICE-1");
    assert_eq!(doc["parameters"]["customer"], 42);
    assert_eq!(doc["status"], "accepted");
    // The token is 4D's: base64 of the compact claims, no padding.
    use base64::Engine;
    let claims = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(token)
        .unwrap();
    assert_eq!(
        String::from_utf8(claims).unwrap(),
        format!("{{\"appNameID\":\"com.contactApp.Contact\",\"id\":\"{id}\",\"teamID\":\"UTT7VDX8W5\"}}")
    );
    let log = d.log_text();
    assert!(
        !log.contains(token) && !log.contains("hunter2"),
        "secrets in the log"
    );
}

#[test]
fn android_sign_in_has_no_team() {
    let d = Daemon::start_open("");
    let body = android_body("android-device-9", "li.wei@example.com");
    let file = d.dir.path().join("body.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let out = d.cli(&["--json", "authenticate", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = r["id"].as_str().unwrap();
    let doc = assert_valid_file(&d, ANDROID, id);
    assert!(doc.get("team").is_none() && doc.get("send").is_none());
    use base64::Engine;
    let claims = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(r["token"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(claims)
        .unwrap()
        .ends_with("\"teamID\":\"\"}"));
}

#[test]
fn seed_token_is_rebuilt_byte_for_byte() {
    // Signing in again with the seed's device keeps its id and token.
    let d = Daemon::start_open("");
    let mut body = ios_body("0DC5132E-1EF4-407C-A832-5FE33D818AF3", "new@example.com");
    body["device"]["description"] = "iPhone X (renamed)".into();
    let r = auth(&d, &body);
    assert_eq!(r["id"], SEED_ID);
    assert_eq!(r["token"], SEED_TOKEN);
    assert_eq!(r["status"], "accepted");
}

#[test]
fn later_sign_ins_reuse_the_session_and_refresh_descriptive_fields() {
    let d = Daemon::start_open("");
    let first = auth_from(&d, &ios_body("DEV-A", "a@example.com"), Some("10.0.0.7"));
    let id = first["id"].as_str().unwrap();
    let mut again = ios_body("DEV-A", "b@example.com");
    again["device"]["version"] = "18.0".into();
    again["application"]["version"] = "1.1.0".into();
    again["language"]["id"] = "de_DE".into();
    let second = auth_from(&d, &again, Some("::ffff:10.9.9.9"));
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["token"], first["token"]);
    let doc = assert_valid_file(&d, IOS, id);
    assert_eq!(doc["email"], "b@example.com");
    assert_eq!(doc["device"]["version"], "18.0");
    assert_eq!(doc["application"]["version"], "1.1.0");
    assert_eq!(doc["session"]["ip"], "::ffff:10.9.9.9");
    assert_eq!(doc["language"]["id"], "de_DE");
    assert_eq!(d.json(&["sessions", IOS]).as_array().unwrap().len(), 3);
    // An administrator's hold sticks: the stored status decides.
    d.ok(&["set-status", "pending", id, "--push"]);
    let third = auth(&d, &ios_body("DEV-A", "b@example.com"));
    assert_eq!(third["status"], "pending");
    assert_eq!(third["token"], Value::Null);
    d.ok(&["accept", id, "--push"]);
    let fourth = auth(&d, &ios_body("DEV-A", "b@example.com"));
    assert_eq!(fourth["status"], "accepted");
    assert_eq!(fourth["token"], first["token"]);
}

#[test]
fn policy_default_per_app_and_email_domains() {
    let config = r#"
[policy]
sign_in = "open"
verify = false
[apps."UTT7VDX8W5.com.contactApp.Contact"]
verify = true
[apps."com.sample.tasks"]
accept_email_domains = ["example.com"]
"#;
    let d = Daemon::start_with(Opts {
        config: Some(config.into()),
        ..Default::default()
    });
    // Per-app verify (keyed by folder): pending, no token, a helpful text.
    let r = auth(&d, &ios_body("DEV-P", "x@example.com"));
    assert_eq!(r["status"], "pending");
    assert_eq!(r["token"], Value::Null);
    assert!(r["statusText"]
        .as_str()
        .unwrap()
        .contains("awaiting validation"));
    let id = r["id"].as_str().unwrap();
    let doc = assert_valid_file(&d, IOS, id);
    assert_eq!(doc["status"], "pending");
    let token = doc["token"].as_str().unwrap().to_string();
    let out = d.cli(&["verify", &token]);
    assert_eq!(out.status.code(), Some(3));
    // Human output says so too.
    let out = d.cli_stdin(
        &["authenticate", "-"],
        &ios_body("DEV-P", "x@example.com").to_string(),
    );
    assert!(
        stdout(&out).contains("pending") && !stdout(&out).contains("token:"),
        "{}",
        stdout(&out)
    );

    // E-mail domains (keyed by app id): listed → accepted, others pending.
    let ok = auth(&d, &android_body("DROID-1", "li.wei@example.com"));
    assert_eq!(ok["status"], "accepted");
    let mut other = android_body("DROID-2", "li.wei@example.com");
    other["email"] = "mallory@evil.test".into();
    assert_eq!(auth(&d, &other)["status"], "pending");
    // Default for an app with no override.
    let mut body = android_body("DROID-3", "li.wei@example.com");
    body["application"]["id"] = "com.brand.new".into();
    assert_eq!(auth(&d, &body)["status"], "accepted");
    assert!(d.apps_dir().join("com.brand.new").is_dir());
}

#[test]
fn bad_bodies_are_refused_and_write_nothing() {
    let d = Daemon::start();
    let before = snapshot(&d.apps_dir());
    for body in [
        "not json".to_string(),
        "[]".to_string(),
        json!({"device": {"id": "x"}}).to_string(),
        json!({"application": {"id": "com.x"}, "device": "x"}).to_string(),
        json!({"application": {"id": "../../etc"}, "device": {"id": "x"}}).to_string(),
        json!({"application": {"id": "com.x"}, "team": {"id": "a/b"}, "device": {"id": "x"}})
            .to_string(),
    ] {
        let out = d.cli_stdin(&["authenticate"], &body);
        assert_eq!(
            out.status.code(),
            Some(2),
            "a bad request is bad usage: {body}"
        );
        assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
    }
    assert_eq!(snapshot(&d.apps_dir()), before);
    let out = d.cli(&["authenticate", "/no/such/file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/file.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_first_sign_ins_make_one_session() {
    let d = Daemon::start_open("");
    let body = ios_body("RACE-DEVICE", "race@example.com").to_string();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (socket, body) = (d.socket.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let c = mobile_session::Client::connect(&socket).await.unwrap();
            c.authenticate(&body).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let files: Vec<_> = std::fs::read_dir(d.apps_dir().join(IOS))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.len() == 40)
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
}
