//! Sign-in as 4D's mobile apps expect it: the decision (hook or rules),
//! refusals that write nothing, sign-in again that keeps the push token and
//! every unknown byte, the stored status, `user-info` and `logout`, limits.
//! Driven through the client library (the CLI renders the same replies).

use std::path::{Path, PathBuf};

use mobile_session::{Client, ClientError};
use mobile_session_proto::{ChangedSession, ErrorCode};
use serde_json::{json, Value};

use crate::common::*;

async fn client(d: &Daemon) -> Client {
    Client::connect(&d.socket).await.unwrap()
}

/// A sign-in the daemon answers with an error: its code and message.
fn auth_error(d: &Daemon, body: &str) -> (ErrorCode, String) {
    match try_auth(d, body) {
        Err(ClientError::Daemon(e)) => (e.code, e.message),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn user_info(d: &Daemon, token: &str, body: &Value) -> Result<ChangedSession, ClientError> {
    block_on(async { client(d).await.user_info(token, &body.to_string()).await })
}

fn logout(d: &Daemon, token: &str) -> Result<ChangedSession, ClientError> {
    block_on(async { client(d).await.logout(token).await })
}

fn verify(d: &Daemon, token: &str) -> String {
    stdout(&d.cli(&["verify", token])).trim().to_string()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

/// The folders under `MobileApps` (a snapshot of files misses empty ones).
fn folders(d: &Daemon) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(d.apps_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    out.sort();
    out
}

/// Everything on disk, folders included.
fn disk(d: &Daemon) -> (Vec<String>, Vec<(PathBuf, Vec<u8>)>) {
    (folders(d), snapshot(&d.apps_dir()))
}

fn example_hook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hooks/allow-list.py")
}

/// A config whose `[policy]` runs `hook`, plus `extra` policy lines.
fn hook_config(hook: &[&str], extra: &str) -> String {
    let argv: Vec<String> = hook.iter().map(|a| Value::from(*a).to_string()).collect();
    // A Python hook can take seconds to start on a loaded machine: only the
    // tests about the timeout itself get a short one.
    let timeout = if extra.contains("hook_timeout_ms") {
        ""
    } else {
        "hook_timeout_ms = 60000\n"
    };
    format!("[policy]\nhook = [{}]\n{timeout}{extra}\n", argv.join(", "))
}

/// A daemon on the example data whose hook is the example script, with a
/// list admitting ana@example.com and zoe@example.com, and li.wei@example.com
/// as pending. The list lives in the directory returned with it.
fn with_example_hook(extra: &str) -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("allowed.txt");
    std::fs::write(
        &list,
        "ana@example.com Ana Lima\nli.wei@example.com pending\nzoe@example.com\n",
    )
    .unwrap();
    let d = Daemon::start_with(Opts {
        config: Some(hook_config(
            &[example_hook().to_str().unwrap(), list.to_str().unwrap()],
            extra,
        )),
        ..Default::default()
    });
    (d, dir)
}

/// A token as 4D builds it.
fn token_for(app: &str, id: &str, team: &str) -> String {
    use base64::Engine;
    let claims = json!({"appNameID": app, "id": id, "teamID": team}).to_string();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(claims)
}

/// Restarts `d` on the same data with `config`.
fn restart_with(d: &mut Daemon, config: &str) {
    assert!(d.stop().success());
    std::fs::write(d.dir.path().join("config.toml"), config).unwrap();
    d.spawn(&Opts {
        config: Some(config.into()),
        ..Default::default()
    });
}

#[test]
fn sign_in_again_keeps_the_push_token_and_every_unknown_byte() {
    let d = Daemon::start_open("");
    // The iPad session, with a member no 4D wrote yet in an odd layout, a
    // BOM and a CRLF: all must survive byte for byte.
    let path = d.file(IOS, IPAD_ID);
    let original = std::fs::read_to_string(&path).unwrap();
    let unknown = "\"future\" :  { \"x\" : [ 1 , 2.50 ] } ,\r\n ";
    let edited = format!("\u{feff}{{{unknown}{}", &original[1..]);
    std::fs::write(&path, &edited).unwrap();
    d.ok(&["push", "--full"]);

    let mut body = ios_body(IPAD_DEVICE, "marie.dupont@example.com");
    body["device"]["description"] = "iPad Pro (M4)".into();
    body["device"]["version"] = "18.1".into();
    body["application"]["version"] = "1.1.0".into();
    body["parameters"] = json!({"region": "EMEA"});
    // The app's own session object is dropped; the front's ip is stored.
    body["session"] = json!({"ip": "6.6.6.6", "role": "admin"});
    let r = auth_from(&d, &body, Some("::ffff:10.0.0.7"));
    // Pending before, and the stored status decides: still pending.
    assert_eq!(r["success"], true);
    assert_eq!(r["id"], IPAD_ID);
    assert_eq!(r["status"], "pending");
    assert_eq!(r["token"], Value::Null);
    assert_eq!(r["userInfo"], Value::Null);
    assert_eq!(verify(&d, IPAD_TOKEN), "pending");

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!("\u{feff}{{{unknown}\"application\": {{")),
        "{text}"
    );
    for kept in [
        "\"team\": {\"id\": \"UTT7VDX8W5\"}",
        "\"send\": \"link\"",
        &format!("\"token\": \"{IPAD_TOKEN}\""),
        &format!("\"session\": {{\"id\": \"{IPAD_ID}\", \"ip\": \"::ffff:10.0.0.7\"}}"),
        &format!("\"token\": \"{IPAD_PUSH_TOKEN}\""),
    ] {
        assert!(text.contains(kept), "{kept} lost: {text}");
    }
    let doc = read_json(&path);
    assert_eq!(
        doc["device"],
        json!({"description": "iPad Pro (M4)", "version": "18.1", "os": "iOS",
               "id": IPAD_DEVICE, "simulator": false, "token": IPAD_PUSH_TOKEN, "jb": false})
    );
    assert_eq!(doc["application"]["version"], "1.1.0");
    assert_eq!(doc["application"]["name"], "Contact");
    assert_eq!(doc["language"]["code"], "fr");
    assert_eq!(doc["parameters"], json!({"region": "EMEA"}));
    assert_eq!(doc["status"], "pending");
    assert!(!text.contains("6.6.6.6") && !text.contains("\"role\""));
    // Numbers keep their text (2.50 stays 2.50).
    assert_eq!(doc["future"].to_string(), r#"{"x":[1,2.50]}"#);
    assert!(!text.contains("hunter2") && !text.contains("password"));
    let p = d.json(&["push", "--full"]);
    assert_eq!(p["invalid"], json!([]), "{p}");
}

#[test]
fn replies_carry_success_and_user_info_for_ios_and_android() {
    let (d, _list) = with_example_hook("");
    let ios = auth(&d, &ios_body("IOS-NEW-1", "ana@example.com"));
    assert_eq!(ios["success"], true);
    assert_eq!(ios["status"], "accepted");
    assert_eq!(ios["statusText"], "Welcome, Ana Lima.");
    let info =
        json!({"email": "ana@example.com", "name": "Ana Lima", "app": "com.contactApp.Contact"});
    assert_eq!(ios["userInfo"], info);
    let id = ios["id"].as_str().unwrap();
    let doc = read_json(&d.file(IOS, id));
    assert_eq!(doc["userInfo"], info);
    assert_eq!(doc["team"], json!({"id": "UTT7VDX8W5", "name": "4D SAS"}));
    assert_eq!(verify(&d, ios["token"].as_str().unwrap()), "accepted");

    let android = auth(&d, &android_body("android-new-1", "ana@example.com"));
    assert_eq!(android["success"], true);
    assert_eq!(android["userInfo"]["app"], "com.sample.tasks");
    let id = android["id"].as_str().unwrap();
    let doc = read_json(&d.file(ANDROID, id));
    assert!(doc.get("team").is_none() && doc.get("send").is_none());
    assert_eq!(doc["device"]["os"], "Android");
    assert_eq!(doc["userInfo"]["email"], "ana@example.com");
    assert_eq!(verify(&d, android["token"].as_str().unwrap()), "accepted");

    // Without a hook: success, and no userInfo.
    let plain = Daemon::start_open("");
    let r = auth(&plain, &android_body(ANDROID_DEVICE, "li.wei@example.com"));
    assert_eq!(
        (r["success"].clone(), r["status"].clone()),
        (json!(true), json!("accepted"))
    );
    assert_eq!(r["id"], ANDROID_ID);
    assert_eq!(r["token"], ANDROID_TOKEN);
    assert_eq!(r["userInfo"], Value::Null);
}

#[test]
fn the_example_hook_admits_refuses_and_holds_back() {
    let (d, _list) = with_example_hook("");
    let before = disk(&d);
    // Not on the list: refused with the hook's text, nothing written.
    let r = auth(&d, &ios_body("IOS-X", "mallory@evil.test"));
    assert_eq!(
        r,
        json!({"success": false, "id": null, "status": null, "token": null,
               "statusText": "This e-mail address is not on the list.", "userInfo": null})
    );
    assert_eq!(disk(&d), before);
    // The hook's stderr reaches the log.
    assert!(d
        .log_text()
        .contains("hook stderr: refused an e-mail that is not on the list"));

    // "pending" on the list: verify → pending, no token, userInfo stored.
    let r = auth(&d, &ios_body("IOS-P", "li.wei@example.com"));
    assert_eq!(
        (r["success"].clone(), r["status"].clone()),
        (json!(true), json!("pending"))
    );
    assert_eq!(r["token"], Value::Null);
    let id = r["id"].as_str().unwrap();
    let doc = read_json(&d.file(IOS, id));
    assert_eq!(doc["status"], "pending");
    assert_eq!(doc["userInfo"]["name"], "li.wei");
    assert_eq!(verify(&d, doc["token"].as_str().unwrap()), "pending");
    // The example keeps a known device's stored status: an administrator's
    // acceptance sticks, and so does a hold.
    d.ok(&["accept", id, "--push"]);
    let r = auth(&d, &ios_body("IOS-P", "li.wei@example.com"));
    assert_eq!(r["status"], "accepted");
    let ana = auth(&d, &ios_body("IOS-A", "ana@example.com"));
    assert_eq!(ana["status"], "accepted");
    let ana_id = ana["id"].as_str().unwrap();
    d.ok(&["set-status", "pending", ana_id, "--push"]);
    let r = auth(&d, &ios_body("IOS-A", "ana@example.com"));
    assert_eq!(
        (r["id"].as_str(), r["status"].as_str()),
        (Some(ana_id), Some("pending"))
    );

    // A refusal leaves an existing session as it was, file and live copy.
    let seed = std::fs::read(d.file(IOS, SEED_ID)).unwrap();
    let r = auth(&d, &ios_body(SEED_DEVICE, "nobody@evil.test"));
    assert_eq!(r["success"], false);
    assert_eq!(std::fs::read(d.file(IOS, SEED_ID)).unwrap(), seed);
    assert_eq!(verify(&d, SEED_TOKEN), "accepted");
    let log = d.log_text();
    assert!(
        !log.contains("hunter2") && !log.contains(SEED_TOKEN),
        "secrets in the log"
    );
}

#[test]
fn the_hook_gets_the_body_as_sent_and_the_daemon_stores_no_password() {
    let d0 = tempfile::tempdir().unwrap();
    let seen = d0.path().join("seen.json");
    let script = format!(
        "cat > '{}'; echo '{{\"success\":true,\"userInfo\":{{\"role\":\"sales\"}}}}'",
        seen.display()
    );
    let d = Daemon::start_with(Opts {
        config: Some(hook_config(&["/bin/sh", "-c", &script], "")),
        ..Default::default()
    });
    let body = ios_body("IOS-SEEN", "x@example.com");
    let r = auth_from(&d, &body, Some("::ffff:10.0.0.7"));
    assert_eq!(r["userInfo"], json!({"role": "sales"}));
    let mut got: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    // The body as sent, plus the session as the daemon knows it.
    let session = got.as_object_mut().unwrap().remove("session").unwrap();
    assert_eq!(got, body);
    assert_eq!(got["password"], "hunter2-secret");
    assert_eq!(
        session,
        json!({"id": r["id"], "ip": "::ffff:10.0.0.7", "status": null})
    );
    let text = std::fs::read_to_string(d.file(IOS, r["id"].as_str().unwrap())).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(!d.log_text().contains("hunter2"));
}

/// A hook that fails refuses the sign-in (fail closed): nothing written, the
/// log says why, the daemon serves on.
fn refused_by_failing_hook(hook: &[&str], extra: &str, why: &str) {
    let d = Daemon::start_with(Opts {
        config: Some(hook_config(hook, extra)),
        ..Default::default()
    });
    let before = disk(&d);
    for body in [
        ios_body("FAIL-NEW", "ana@example.com"),
        ios_body(SEED_DEVICE, "ana@example.com"),
    ] {
        let r = auth(&d, &body);
        assert_eq!(r["success"], false, "{r}");
        assert_eq!(r["id"], Value::Null);
        assert_eq!(
            r["statusText"],
            "Sign-in is not available right now; please try again later."
        );
    }
    assert_eq!(disk(&d), before);
    let log = d.log_text();
    assert!(
        log.contains("sign-in refused: the hook") && log.contains(why),
        "{log}"
    );
    // Still serving.
    assert_eq!(verify(&d, SEED_TOKEN), "accepted");
    assert!(d.cli(&["status"]).status.success());
}

#[test]
fn a_hook_that_exits_1_refuses() {
    refused_by_failing_hook(
        &[
            "/bin/sh",
            "-c",
            "cat >/dev/null; echo '{\"success\":true}'; exit 1",
        ],
        "",
        "failed (exit status: 1)",
    );
}

#[test]
fn a_hook_that_sleeps_past_the_timeout_refuses() {
    refused_by_failing_hook(
        &["/bin/sh", "-c", "sleep 60"],
        "hook_timeout_ms = 300",
        "gave no answer within 300 ms and was killed",
    );
}

#[test]
fn a_hook_that_prints_garbage_refuses() {
    refused_by_failing_hook(
        &["/bin/sh", "-c", "echo 'OK, let them in'"],
        "",
        "answered something that is not one JSON object",
    );
}

#[test]
fn a_hook_that_cannot_start_refuses() {
    refused_by_failing_hook(&["/no/such/hook"], "", "could not be started");
}

#[test]
fn a_hook_answer_of_the_wrong_shape_refuses() {
    refused_by_failing_hook(
        &[
            "/bin/sh",
            "-c",
            "echo '{\"success\":true,\"userInfo\":\"admin\"}'",
        ],
        "",
        "answered a \"userInfo\" that is not an object",
    );
}

#[test]
fn per_app_hooks_and_closed_sign_in() {
    let config = r#"
[policy]
sign_in = "closed"
[apps."com.sample.tasks"]
hook = ["/bin/sh", "-c", "echo '{\"success\":true,\"verify\":true}'"]
[apps."com.open.app"]
sign_in = "open"
"#;
    let d = Daemon::start_with(Opts {
        config: Some(config.into()),
        ..Default::default()
    });
    let closed = auth(&d, &ios_body("NEW-1", "ana@example.com"));
    assert_eq!(closed["success"], false);
    assert_eq!(closed["statusText"], "Sign-in to this app is closed.");
    // The hook alone decides for its app.
    let hooked = auth(&d, &android_body("droid-77", "x@y.z"));
    assert_eq!(hooked["status"], "pending");
    let mut body = android_body("droid-78", "x@y.z");
    body["application"]["id"] = "com.open.app".into();
    assert_eq!(auth(&d, &body)["status"], "accepted");
}

#[test]
fn a_pending_session_waits_for_an_admin_whatever_the_policy_says_now() {
    let mut d = Daemon::start_open("verify = true");
    let first = auth(&d, &ios_body("RE-1", "ana@example.com"));
    assert_eq!(first["status"], "pending");
    let id = first["id"].as_str().unwrap().to_string();
    // Signing in again under the same policy: still pending.
    assert_eq!(
        auth(&d, &ios_body("RE-1", "ana@example.com"))["status"],
        "pending"
    );
    // A policy that would accept a new device does not accept this one.
    restart_with(&mut d, &format!("{OPEN_SIGN_IN}verify = false\n"));
    let again = auth(&d, &ios_body("RE-1", "ana@example.com"));
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "pending");
    assert_eq!(read_json(&d.file(IOS, &id))["status"], "pending");
    // An administrator does.
    d.ok(&["accept", &id, "--push"]);
    let again = auth(&d, &ios_body("RE-1", "ana@example.com"));
    assert_eq!(again["status"], "accepted");
    let token = again["token"].as_str().unwrap();
    assert_eq!(verify(&d, token), "accepted");
    // An accepted session stays accepted under a stricter policy while its
    // e-mail does not change.
    restart_with(&mut d, &format!("{OPEN_SIGN_IN}verify = true\n"));
    let kept = auth(&d, &ios_body("RE-1", "ANA@example.com"));
    assert_eq!(kept["status"], "accepted");
    assert_eq!(kept["token"], token);
}

#[test]
fn an_accepted_session_with_a_new_e_mail_is_decided_again() {
    let config = r#"
[policy]
sign_in = "open"
[apps."UTT7VDX8W5.com.contactApp.Contact"]
accept_email_domains = ["example.com"]
[apps."com.sample.tasks"]
allow_email_domains = ["example.com"]
"#;
    let d = Daemon::start_with(Opts {
        config: Some(config.into()),
        ..Default::default()
    });
    // accept_email_domains: a new e-mail of another domain → pending.
    let ok = auth(&d, &ios_body("MAIL-1", "ok@example.com"));
    assert_eq!(ok["status"], "accepted");
    let token = ok["token"].as_str().unwrap().to_string();
    let moved = auth(&d, &ios_body("MAIL-1", "mallory@evil.test"));
    assert_eq!(moved["id"], ok["id"]);
    assert_eq!(moved["status"], "pending");
    assert_eq!(moved["token"], Value::Null);
    assert_eq!(verify(&d, &token), "pending");
    let doc = read_json(&d.file(IOS, ok["id"].as_str().unwrap()));
    assert_eq!(
        (doc["status"].clone(), doc["email"].clone()),
        (json!("pending"), json!("mallory@evil.test"))
    );

    // allow_email_domains: a new e-mail of another domain → refused, the
    // file and the live session as they were.
    let ok = auth(&d, &android_body("DROID-MAIL", "ok@example.com"));
    assert_eq!(ok["status"], "accepted");
    let path = d.file(ANDROID, ok["id"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    let refused = auth(&d, &android_body("DROID-MAIL", "mallory@evil.test"));
    assert_eq!(refused["success"], false);
    assert_eq!(
        refused["statusText"],
        "This e-mail address may not sign in to this app."
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(verify(&d, ok["token"].as_str().unwrap()), "accepted");
}

#[test]
fn user_info_stores_the_push_token_and_sign_in_again_keeps_it() {
    let d = Daemon::start_open("");
    let r = auth(&d, &android_body("DROID-UI", "ana@example.com"));
    let (id, token) = (r["id"].as_str().unwrap(), r["token"].as_str().unwrap());
    let path = d.file(ANDROID, id);
    let before = std::fs::read_to_string(&path).unwrap();
    let body = json!({"userInfo": {"name": "Ana", "tags": ["a", "b"]}, "device": {"token": "fcm:APA91b-xyz"}});
    // The Authorization header's form works too.
    let c = user_info(&d, &format!("Bearer {token}"), &body).unwrap();
    assert_eq!(
        (c.app.as_str(), c.id.as_str(), c.changed),
        (ANDROID, id, true)
    );
    let after = std::fs::read_to_string(&path).unwrap();
    let doc: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(doc["userInfo"], body["userInfo"]);
    assert_eq!(doc["device"]["token"], "fcm:APA91b-xyz");
    // In place: what was there is still there, line for line.
    let last_device_line = "    \"os\": \"Android\"";
    assert!(
        after.contains(&format!(
            "{last_device_line},\n    \"token\": \"fcm:APA91b-xyz\"\n  }}"
        )),
        "{after}"
    );
    for line in before
        .lines()
        .filter(|l| !l.contains("\"os\"") && *l != "}")
    {
        assert!(after.contains(line), "{line} lost:\n{after}");
    }
    // Live at once: a sessions filter by push token finds it without a push.
    assert_eq!(d.unpushed(id), Some(Value::Null));
    // The same again changes nothing.
    assert!(!user_info(&d, token, &body).unwrap().changed);
    // A sign-in again (no device.token in the body) keeps the push token.
    auth(&d, &android_body("DROID-UI", "ana@example.com"));
    assert_eq!(read_json(&path)["device"]["token"], "fcm:APA91b-xyz");
    assert_eq!(read_json(&path)["userInfo"]["name"], "Ana");
}

#[test]
fn user_info_and_logout_of_unknown_or_pending_tokens_change_nothing() {
    let d = Daemon::start();
    let before = disk(&d);
    let body = json!({"device": {"token": "x"}});
    let forged = token_for("com.contactApp.Contact", &"f".repeat(40), "UTT7VDX8W5");
    for token in ["", "garbage", IPAD_TOKEN, &forged, &"A".repeat(10_000)] {
        // IPAD_TOKEN is pending: not signed in.
        let e = user_info(&d, token, &body).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UnknownToken), "{token:.20}: {e}");
        assert!(!e.to_string().contains(IPAD_TOKEN));
        let e = logout(&d, token).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UnknownToken), "{token:.20}: {e}");
    }
    assert_eq!(disk(&d), before);
    // A bad body is a bad request, whatever the token.
    let e = user_info(&d, SEED_TOKEN, &json!({"userInfo": 3})).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::BadRequest));
    assert_eq!(disk(&d), before);
}

#[test]
fn logout_deletes_the_session_and_its_token_stops_at_once() {
    let d = Daemon::start_open("");
    // A padded, URL-safe form of the seed token.
    let url_safe = SEED_TOKEN.replace('+', "-").replace('/', "_");
    let padded = format!("{url_safe}{}", "=".repeat((4 - url_safe.len() % 4) % 4));
    let c = logout(&d, &padded).unwrap();
    assert_eq!(
        (c.app.as_str(), c.id.as_str(), c.status, c.changed),
        (IOS, SEED_ID, None, true)
    );
    assert!(!d.file(IOS, SEED_ID).exists());
    assert_eq!(verify(&d, SEED_TOKEN), "unknown");
    assert_eq!(d.unpushed(SEED_ID), None);
    let e = logout(&d, SEED_TOKEN).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UnknownToken));
    // Other files of the folder are untouched.
    assert!(d.file(IOS, "manifest.json").exists() && d.file(IOS, IPAD_ID).exists());
    // The device signs in again: a new session.
    let r = auth(&d, &ios_body(SEED_DEVICE, "ana@example.com"));
    assert_ne!(r["id"], SEED_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_first_sign_ins_with_a_hook_make_one_session() {
    let (d, _list) = with_example_hook("");
    let body = ios_body("RACE-HOOK", "ana@example.com").to_string();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (socket, body) = (d.socket.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let c = Client::connect(&socket).await.unwrap();
            c.authenticate(&body).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.success && r.user_info.is_some(), "{r:?}");
        ids.push(r.id);
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

#[test]
fn oversized_bodies_and_files_are_refused_and_write_nothing() {
    let d = Daemon::start_open("");
    let before = disk(&d);
    // Over 64 KiB.
    let mut big = ios_body("BIG-1", "a@example.com");
    big["application"]["id"] = "com.big.app".into();
    big["parameters"] = json!({"blob": "x".repeat(70_000)});
    let (code, msg) = auth_error(&d, &big.to_string());
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("at most 65536"), "{msg}");
    // Under 64 KiB, but deeply nested: its pretty file would pass 1 MiB.
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    big["parameters"] = Value::Array(vec![serde_json::from_str(&nested).unwrap(); 300]);
    let text = big.to_string();
    assert!(text.len() < 64 * 1024);
    let (code, msg) = auth_error(&d, &text);
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(
        msg.contains("over the limit") && msg.contains("nothing was written"),
        "{msg}"
    );
    // Again: no retry writes a file.
    auth_error(&d, &text);
    assert_eq!(disk(&d), before);
    assert!(!d.apps_dir().join("UTT7VDX8W5.com.big.app").exists());

    // A sign-in again that would make a file too large leaves it untouched.
    let path = d.file(IOS, SEED_ID);
    let mut doc = read_json(&path);
    doc["padding"] = "p".repeat(1_040_000).into();
    std::fs::write(&path, doc.to_string()).unwrap();
    d.ok(&["push", "--full"]);
    let seed = std::fs::read(&path).unwrap();
    let mut body = ios_body(SEED_DEVICE, "a@example.com");
    body["parameters"] = json!({"blob": "y".repeat(20_000)});
    let (code, msg) = auth_error(&d, &body.to_string());
    assert_eq!(code, ErrorCode::BadRequest);
    assert!(msg.contains("over the limit"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), seed);
    assert_eq!(verify(&d, SEED_TOKEN), "accepted");
}

#[test]
fn unprintable_or_non_string_ids_are_clear_errors() {
    let d = Daemon::start();
    let before = disk(&d);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"application": {"id": "com.evil\napp"}}),
            "application.id contains U+000A",
        ),
        (
            json!({"application": {"id": "com.\u{1b}[31mred"}}),
            "application.id contains U+001B",
        ),
        (json!({"team": {"id": "T\u{7}"}}), "team.id contains U+0007"),
        (
            json!({"device": {"id": "D\r"}}),
            "device.id contains U+000D",
        ),
        (
            json!({"team": {"id": 42}}),
            "team.id must be a string, not a number",
        ),
        (
            json!({"application": {"id": ["com.x"]}}),
            "application.id must be a string",
        ),
        (
            json!({"device": {"id": {"x": 1}}}),
            "device.id must be a string",
        ),
        (
            json!({"device": {"id": "d".repeat(8193)}}),
            "device.id is 8193 bytes long",
        ),
        (
            json!({"team": {"id": "t".repeat(256)}}),
            "team.id is 256 bytes long",
        ),
        (
            json!({"application": {"id": "../../etc"}}),
            "not a plain name",
        ),
    ];
    for (patch, want) in cases {
        let mut body = ios_body("CTRL-1", "a@example.com");
        for (k, v) in patch.as_object().unwrap() {
            for (ik, iv) in v.as_object().unwrap() {
                body[k][ik] = iv.clone();
            }
        }
        let (code, msg) = auth_error(&d, &body.to_string());
        assert_eq!(code, ErrorCode::BadRequest, "{want}");
        assert!(msg.contains(want), "{want}: {msg}");
    }
    assert_eq!(disk(&d), before);
    let log = d.log_text();
    assert!(
        !log.contains('\u{1b}') && !log.contains("evil\napp"),
        "raw control characters in the log"
    );
    // The CLI says so too, on stderr.
    let out = d.cli_stdin(
        &["authenticate"],
        &json!({"application": {"id": "a\u{1b}b"}, "device": {"id": "x"}}).to_string(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("application.id contains U+001B"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_or_missing_device_id_signs_in_a_new_session_each_time() {
    let d = Daemon::start_open("");
    let a = auth(&d, &ios_body("", "a@example.com"));
    let b = auth(&d, &ios_body("", "a@example.com"));
    let mut no_id = ios_body("", "a@example.com");
    no_id["device"].as_object_mut().unwrap().remove("id");
    let c = auth(&d, &no_id);
    assert!(a["id"] != b["id"] && b["id"] != c["id"] && a["id"] != c["id"]);
    for r in [&a, &b, &c] {
        assert_eq!(r["status"], "accepted");
        assert!(d.file(IOS, r["id"].as_str().unwrap()).exists());
    }
}

#[test]
fn uuid_session_ids() {
    let d = Daemon::start_with(Opts {
        config: Some(format!("session_id = \"uuid\"\n{OPEN_SIGN_IN}")),
        ..Default::default()
    });
    let r = auth(&d, &ios_body("UUID-1", "a@example.com"));
    let id = r["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{id}"
    );
    assert_eq!(&id[12..13], "4", "a version 4 UUID: {id}");
    let doc = read_json(&d.file(IOS, id));
    assert_eq!(doc["session"]["id"], id);
    let token = r["token"].as_str().unwrap();
    assert_eq!(verify(&d, token), "accepted");
    // Found again by its device, case kept.
    assert_eq!(auth(&d, &ios_body("UUID-1", "a@example.com"))["id"], id);
    assert!(
        user_info(&d, token, &json!({"device": {"token": "apns"}}))
            .unwrap()
            .changed
    );
    assert_eq!(read_json(&d.file(IOS, id))["device"]["token"], "apns");
    assert_eq!(logout(&d, token).unwrap().id, id);
    assert!(!d.file(IOS, id).exists());
}
