//! `notify`: the real daemon sends to local APNs and FCM stand-ins
//! (HTTP/2 over TLS, certificates of a CA made for the test and trusted
//! through `[notify] ca_file`), through the real `mobile-session`.

use std::path::Path;

use mobile_session_push_standin::keys::{self, ApnsKey};
use mobile_session_push_standin::{ApnsStandIn, FcmStandIn, Scripted, TestCa};
use serde_json::Value;

use crate::common::{session_json, snapshot, stderr, wait_until, Daemon, Opts};

pub(crate) const IOS: &str = "TEAM123456.com.example.push";
const ANDROID: &str = "com.example.push";
const KEY_ID: &str = "KEY1234567";
const TEAM: &str = "TEAM123456";
const SA_EMAIL: &str = "push@example-project.iam.gserviceaccount.com";
const PROJECT: &str = "example-project";

/// Session ids: accepted with a token, pending, accepted without a token,
/// accepted with a second token.
const A: &str = "aaaa000000000000000000000000000000000001";
const P: &str = "aaaa000000000000000000000000000000000002";
const N: &str = "aaaa000000000000000000000000000000000003";
const D: &str = "aaaa000000000000000000000000000000000004";
const G1: &str = "bbbb000000000000000000000000000000000001";
const G2: &str = "bbbb000000000000000000000000000000000002";

fn token_of(id: &str) -> String {
    format!("{:0>64}", &id[id.len() - 8..]).replace('0', "f")
}

pub(crate) struct Setup {
    pub(crate) d: Daemon,
    apns: ApnsStandIn,
    fcm: FcmStandIn,
    key: ApnsKey,
}

/// A session file of `folder` with `email`, `os` and (maybe) a push token.
fn write_session(
    apps: &Path,
    folder: &str,
    id: &str,
    status: &str,
    email: &str,
    os: &str,
    token: bool,
) {
    let team = folder.strip_suffix(&format!(".{ANDROID}"));
    let mut v = session_json(ANDROID, team, id, status);
    v["email"] = email.into();
    v["device"]["os"] = os.into();
    if token {
        v["device"]["token"] = token_of(id).into();
    }
    let dir = apps.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(id), serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Writes a file and returns its path as TOML text.
fn put(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    format!("{:?}", p.display().to_string())
}

/// Starts the stand-ins and a daemon on an empty data dir with an iOS app
/// and an Android app. `apns_app` is the iOS app's `[notify.apps]` table
/// body (`None`: no table; the key may be in its folder).
fn setup(apns_app: Option<&str>, key_in_folder: bool) -> Setup {
    let ca = TestCa::new();
    let key = keys::apns_key();
    let apns = ApnsStandIn::start(&ca, &key, KEY_ID, TEAM);
    let fcm = FcmStandIn::start(&ca, SA_EMAIL, PROJECT);
    let mut d = Daemon::prepare(&Opts {
        empty: true,
        ..Default::default()
    });
    let dir = d.dir.path().to_path_buf();
    let ca_file = put(&dir, "ca.pem", &ca.cert_pem());
    let key_file = put(&dir, &format!("AuthKey_{KEY_ID}.p8"), &key.pem);
    let sa = put(
        &dir,
        "sa.json",
        &keys::service_account_json(SA_EMAIL, PROJECT, &fcm.token_uri()),
    );
    let ios_table = match apns_app {
        Some(body) => format!(
            "[notify.apps.\"{IOS}\"]\n{}\n",
            body.replace("KEY_FILE", &key_file)
        ),
        None => String::new(),
    };
    let config = format!(
        "[notify]\nca_file = {ca_file}\napns_url = \"{}\"\nfcm_url = \"{}\"\n{ios_table}\
         [notify.apps.\"{ANDROID}\"]\nfcm_service_account = {sa}\n",
        apns.url(),
        fcm.url()
    );
    std::fs::write(dir.join("config.toml"), &config).unwrap();
    let apps = d.apps_dir();
    write_session(&apps, IOS, A, "accepted", "Ann@Example.com", "iOS", true);
    write_session(&apps, IOS, P, "pending", "pat@example.com", "iPadOS", true);
    write_session(&apps, IOS, N, "accepted", "ned@example.com", "iOS", false);
    write_session(&apps, IOS, D, "accepted", "dee@example.com", "iOS", true);
    write_session(
        &apps,
        ANDROID,
        G1,
        "accepted",
        "gus@example.com",
        "Android",
        true,
    );
    write_session(
        &apps,
        ANDROID,
        G2,
        "accepted",
        "gil@example.com",
        "Android",
        true,
    );
    if key_in_folder {
        std::fs::write(
            apps.join(IOS).join(format!("AuthKey_{KEY_ID}.p8")),
            &key.pem,
        )
        .unwrap();
    }
    d.spawn(&Opts {
        config: Some(config),
        ..Default::default()
    });
    Setup { d, apns, fcm, key }
}

/// A daemon whose iOS app `IOS` has APNs credentials and live sessions
/// with push tokens (the history's tests notify through it too).
pub(crate) fn configured() -> Setup {
    setup(Some("apns_key_file = KEY_FILE"), false)
}

fn notify(d: &Daemon, args: &[&str]) -> (Value, i32) {
    let mut a = vec!["notify"];
    a.extend_from_slice(args);
    d.json_code(&a)
}

fn result<'v>(reply: &'v Value, id: &str) -> &'v Value {
    reply["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("no result for {id}: {reply}"))
}

fn device_token(d: &Daemon, folder: &str, id: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(&std::fs::read(d.file(folder, id)).unwrap()).unwrap();
    v["device"]["token"].as_str().map(str::to_string)
}

#[test]
fn one_email_reaches_its_device_over_apns() {
    let s = configured();
    let (r, code) = notify(
        &s.d,
        &[
            IOS,
            "--email",
            "ann@example.COM",
            "--title",
            "Hello",
            "--subtitle",
            "Sub",
            "--body",
            "World",
            "--badge",
            "3",
            "--sound",
            "default",
            "--data",
            r#"{"dataClass":"Employees","n":1}"#,
        ],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (r["success"].clone(), r["sent"].clone(), r["failed"].clone()),
        (true.into(), 1.into(), 0.into()),
        "{r}"
    );
    assert_eq!(r["errors"], serde_json::json!([]));
    let a = result(&r, A);
    assert_eq!(
        (
            a["app"].as_str(),
            a["platform"].as_str(),
            a["status"].as_str()
        ),
        (Some(IOS), Some("ios"), Some("sent"))
    );
    assert_eq!(
        (a["reason"].clone(), a["token_removed"].clone()),
        (Value::Null, false.into())
    );
    let got = s.apns.delivered();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.path, format!("/3/device/{}", token_of(A)));
    assert_eq!(req.header("apns-topic"), Some(ANDROID));
    assert_eq!(req.header("apns-push-type"), Some("alert"));
    // The stand-in checked the ES256 signature against the .p8 key.
    let jwt = req
        .header("authorization")
        .unwrap()
        .strip_prefix("bearer ")
        .unwrap();
    let checked = keys::verify_es256(jwt, &s.key.public).unwrap();
    assert_eq!(
        (
            checked.header["kid"].as_str(),
            checked.claims["iss"].as_str()
        ),
        (Some(KEY_ID), Some(TEAM))
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"aps": {"alert": {"title": "Hello", "subtitle": "Sub", "body": "World"},
            "badge": 3, "sound": "default"}, "dataClass": "Employees", "n": 1})
    );
}

#[test]
fn all_skips_pending_and_token_less_sessions() {
    let s = configured();
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (
            r["sent"].as_u64(),
            r["skipped"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(2), Some(2), Some(0)),
        "{r}"
    );
    assert_eq!(result(&r, P)["reason"], "pending");
    assert_eq!(result(&r, P)["status"], "skipped");
    assert_eq!(result(&r, N)["reason"], "no token");
    let mut paths: Vec<String> = s.apns.delivered().iter().map(|q| q.path.clone()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            format!("/3/device/{}", token_of(A)),
            format!("/3/device/{}", token_of(D))
        ]
    );
    // With --include-pending the pending device is a recipient too.
    let (r, code) = notify(&s.d, &[IOS, "--all", "--include-pending", "--title", "Hi"]);
    assert_eq!((code, r["sent"].as_u64()), (0, Some(3)), "{r}");
    // The table names the skipped ones and why.
    let out = s.d.ok(&["notify", IOS, "--all", "--title", "Hi"]);
    assert!(
        out.contains("pending") && out.contains("no token") && out.contains("2 sent"),
        "{out}"
    );
}

#[test]
fn the_4d_style_key_in_the_app_folder_is_used() {
    let s = setup(None, true);
    let (r, code) = notify(&s.d, &[IOS, "--session", A, "--title", "From the folder"]);
    assert_eq!((code, r["sent"].as_u64()), (0, Some(1)), "{r}");
    let jwt = s.apns.provider_tokens();
    let checked = keys::verify_es256(&jwt[0], &s.key.public).unwrap();
    // The key id from the file name, the team from the folder.
    assert_eq!(
        (
            checked.header["kid"].as_str(),
            checked.claims["iss"].as_str()
        ),
        (Some(KEY_ID), Some(TEAM))
    );
}

#[test]
fn a_410_and_a_bad_device_token_remove_exactly_that_token() {
    let s = configured();
    s.apns.unregister(&token_of(D));
    let before = snapshot(&s.d.apps_dir());
    let text_before = std::fs::read_to_string(s.d.file(IOS, D)).unwrap();
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!(code, 1, "{r}");
    let d = result(&r, D);
    assert_eq!(
        (
            d["status"].as_str(),
            d["reason"].as_str(),
            d["token_removed"].as_bool()
        ),
        (Some("failed"), Some("Unregistered"), Some(true)),
        "{r}"
    );
    assert_eq!(result(&r, A)["status"], "sent");
    // Only that member of that file changed.
    assert_eq!(device_token(&s.d, IOS, D), None);
    let text_after = std::fs::read_to_string(s.d.file(IOS, D)).unwrap();
    let line = format!(",\n    \"token\": \"{}\"", token_of(D));
    assert!(text_before.contains(&line), "{text_before}");
    assert_eq!(text_after, text_before.replace(&line, ""));
    let after = snapshot(&s.d.apps_dir());
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.clone())
        .collect();
    assert_eq!(changed, [s.d.file(IOS, D)]);
    // The live view follows: the next command skips it.
    let (r, _) = notify(&s.d, &[IOS, "--all", "--title", "Again"]);
    assert_eq!(result(&r, D)["reason"], "no token", "{r}");
    assert_eq!(s.d.unpushed(D), Some(Value::Null));
    // 400 BadDeviceToken is a dead token too.
    s.apns.bad_device_token(&token_of(A));
    let (r, _) = notify(&s.d, &[IOS, "--session", A, "--title", "Hi"]);
    assert_eq!(result(&r, A)["reason"], "BadDeviceToken");
    assert_eq!(result(&r, A)["token_removed"], true);
    assert_eq!(device_token(&s.d, IOS, A), None);
}

#[test]
fn fcm_sends_and_unregistered_removes_exactly_that_token() {
    let s = configured();
    s.fcm.unregister(&token_of(G2));
    let (r, code) = notify(
        &s.d,
        &[
            ANDROID,
            "--all",
            "--title",
            "Hi",
            "--body",
            "There",
            "--data",
            r#"{"k":2}"#,
        ],
    );
    assert_eq!(code, 1, "{r}");
    assert_eq!(result(&r, G1)["status"], "sent");
    assert_eq!(result(&r, G1)["platform"], "android");
    let g2 = result(&r, G2);
    assert_eq!(
        (g2["reason"].as_str(), g2["token_removed"].as_bool()),
        (Some("UNREGISTERED"), Some(true))
    );
    assert_eq!(device_token(&s.d, ANDROID, G2), None);
    assert_eq!(device_token(&s.d, ANDROID, G1), Some(token_of(G1)));
    let sent = s.fcm.delivered();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].path,
        format!("/v1/projects/{PROJECT}/messages:send")
    );
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": {"token": token_of(G1), "notification": {"title": "Hi", "body": "There"},
            "data": {"k": "2"}}})
    );
}

#[test]
fn tokens_and_connections_are_reused_from_one_command_to_the_next() {
    let s = configured();
    for _ in 0..3 {
        assert_eq!(notify(&s.d, &[IOS, "--all", "--title", "Hi"]).1, 0);
        assert_eq!(notify(&s.d, &[ANDROID, "--all", "--title", "Hi"]).1, 0);
    }
    assert_eq!(s.apns.delivered_count(), 6);
    assert_eq!(s.fcm.delivered().len(), 6);
    assert_eq!(
        s.apns.connections(),
        1,
        "one APNs connection for every command"
    );
    assert_eq!(s.apns.provider_tokens().len(), 1, "one provider token");
    assert_eq!(s.fcm.tokens_issued(), 1, "one access token");
    // The token endpoint and FCM share one host here: one connection.
    assert_eq!(s.fcm.connections(), 1);
    // A connection the service closes is opened again.
    s.apns.drop_connections();
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!((code, r["sent"].as_u64()), (0, Some(2)), "{r}");
    assert_eq!(s.apns.connections(), 2);
    assert_eq!(s.apns.provider_tokens().len(), 1);
}

#[test]
fn many_notifications_are_in_flight_at_once_on_one_connection() {
    let s = configured();
    let apps = s.d.apps_dir();
    for i in 0..30 {
        let id = format!("cccc{:036}", 1000 + i);
        write_session(&apps, IOS, &id, "accepted", "many@example.com", "iOS", true);
    }
    s.d.ok(&["push"]);
    // The stand-in answers none until all 32 are in flight together.
    s.apns.hold_until_in_flight(32);
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!((code, r["sent"].as_u64()), (0, Some(32)), "{r}");
    assert_eq!(s.apns.max_in_flight(), 32);
    assert_eq!(s.apns.connections(), 1);
}

#[test]
fn dry_run_lists_the_recipients_and_sends_nothing() {
    let s = configured();
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi", "--dry-run"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        (
            r["dry_run"].as_bool(),
            r["sent"].as_u64(),
            r["success"].as_bool()
        ),
        (Some(true), Some(0), Some(false))
    );
    assert_eq!(result(&r, A)["reason"], "dry run");
    assert_eq!(result(&r, D)["reason"], "dry run");
    assert_eq!(result(&r, P)["reason"], "pending");
    let quiet =
        s.d.ok(&["-q", "notify", IOS, "--all", "--title", "Hi", "--dry-run"]);
    assert_eq!(quiet, format!("{A}\n{D}\n"));
    assert!(s.apns.requests().is_empty());
    assert_eq!(s.apns.connections(), 0);
}

#[test]
fn without_credentials_the_exit_is_78_and_names_the_key_to_set() {
    let s = setup(None, false);
    let out = s.d.cli(&["notify", IOS, "--all", "--title", "Hi"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    // The iOS and the Android app share their bundle id: the table keyed by
    // it is where the key goes.
    assert!(
        err.contains("apns_key_file") && err.contains(&format!("[notify.apps.\"{ANDROID}\"]")),
        "{err}"
    );
    assert!(s.apns.requests().is_empty());
    // Dry runs say so without failing.
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(r["warnings"].to_string().contains("apns_key_file"), "{r}");
    // The example data's placeholder key is not a key.
    let mut d = Daemon::start();
    let out = d.cli(&[
        "notify",
        "com.contactApp.Contact",
        "--all",
        "--include-pending",
        "--title",
        "Hi",
    ]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AuthKey_4S3T2R1Q0P.p8"),
        "{}",
        stderr(&out)
    );
    let out = d.cli(&["notify", "com.sample.tasks", "--all", "--title", "Hi"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no token: nothing to send, {}",
        stderr(&out)
    );
    d.stop();
}

#[test]
fn refused_credentials_are_configuration_errors() {
    // A key id APNs does not know: 403 InvalidProviderToken.
    let s = setup(
        Some("apns_key_file = KEY_FILE\napns_key_id = \"OTHERKEY01\""),
        false,
    );
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!(code, 78, "{r}");
    assert!(
        r["errors"].to_string().contains("InvalidProviderToken"),
        "{r}"
    );
    assert_eq!(r["sent"], 0);
    // A service account the token endpoint refuses: nothing sent.
    let sa = s.d.dir.path().join("sa.json");
    std::fs::write(
        &sa,
        keys::service_account_json(
            "someone@else.iam.gserviceaccount.com",
            PROJECT,
            &s.fcm.token_uri(),
        ),
    )
    .unwrap();
    let out = s.d.cli(&["notify", ANDROID, "--all", "--title", "Hi"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid_grant"), "{}", stderr(&out));
    assert!(s.fcm.delivered().is_empty());
}

#[test]
fn a_server_certificate_no_trusted_ca_signed_is_refused_and_nothing_sent() {
    let s = configured();
    // Another CA signs this stand-in's certificate.
    let rogue = ApnsStandIn::start(&TestCa::new(), &s.key, KEY_ID, TEAM);
    let config = std::fs::read_to_string(s.d.dir.path().join("config.toml")).unwrap();
    let d = s.d;
    std::fs::write(
        d.dir.path().join("config.toml"),
        config.replace(&s.apns.url(), &rogue.url()),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_until("the reload is logged", || {
        d.log_text().contains("configuration read again")
    });
    let (r, code) = notify(&d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["sent"], 0);
    assert!(r["errors"].to_string().contains("certificate"), "{r}");
    assert!(
        result(&r, A)["reason"].to_string().contains("not trusted"),
        "{r}"
    );
    assert!(
        rogue.requests().is_empty(),
        "something reached the rogue server"
    );
    assert_eq!(rogue.connections(), 0);
}

#[test]
fn busy_answers_are_retried_as_the_service_asks() {
    let s = configured();
    s.apns.script(
        &token_of(A),
        vec![Scripted::new(429, "TooManyRequests").retry_after(1)],
    );
    s.apns.script(
        &token_of(D),
        vec![Scripted::new(503, "ServiceUnavailable").retry_after(0); 4],
    );
    let (r, code) = notify(&s.d, &[IOS, "--all", "--title", "Hi"]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(result(&r, A)["status"], "sent", "{r}");
    let d = result(&r, D);
    assert_eq!(d["status"], "failed");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("503 ServiceUnavailable"),
        "{r}"
    );
    assert_eq!(d["token_removed"], false);
    let tries = |id: &str| {
        s.apns
            .requests()
            .iter()
            .filter(|q| q.path.ends_with(&token_of(id)))
            .count()
    };
    assert_eq!((tries(A), tries(D)), (2, 4));
    assert_eq!(device_token(&s.d, IOS, D), Some(token_of(D)));
}

#[test]
fn watch_reports_each_commands_counts() {
    use std::io::BufRead;
    let s = configured();
    let mut watch = std::process::Command::new(crate::common::client_bin())
        .args(["--socket"])
        .arg(&s.d.socket)
        .args(["--json", "watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // The stream is up once an event of ours shows.
    let mut seen = Vec::new();
    wait_until("watch streams", || {
        let _ = notify(&s.d, &[IOS, "--all", "--title", "Hi", "--dry-run"]);
        seen.extend(rx.try_iter());
        seen.iter().any(|l| l.contains("\"notified\""))
    });
    s.apns.unregister(&token_of(D));
    assert_eq!(notify(&s.d, &[IOS, "--all", "--title", "Hi"]).1, 1);
    let mut event = None;
    wait_until("the notified event", || {
        seen.extend(rx.try_iter());
        event = seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["event"] == "notified" && e["message"].is_null());
        event.is_some()
    });
    let e = event.unwrap();
    assert_eq!(e["app"], IOS);
    assert_eq!(
        e["notify"],
        serde_json::json!({"sent": 1, "failed": 1, "skipped": 2, "tokens_removed": 1})
    );
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn bad_usage_exits_2() {
    let s = configured();
    for args in [
        vec!["notify", IOS, "--title", "Hi"],
        vec!["notify", IOS, "--all", "--email", "a@b.c", "--title", "Hi"],
        vec!["notify", IOS, "--all"],
        vec!["notify", IOS, "--all", "--title", "Hi", "--data", "[1]"],
        vec!["notify", IOS, "--session", "zz", "--title", "Hi"],
    ] {
        let out = s.d.cli(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // An e-mail nobody has is a warning, and "no recipient" an error.
    let (r, code) = notify(
        &s.d,
        &[IOS, "--email", "nobody@example.com", "--title", "Hi"],
    );
    assert_eq!(code, 1, "{r}");
    assert!(
        r["warnings"].to_string().contains("nobody@example.com"),
        "{r}"
    );
    assert!(
        r["errors"].to_string().contains("No recipient found"),
        "{r}"
    );
}
