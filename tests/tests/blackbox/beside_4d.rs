//! Beside a real 4D server: real iPhones (long DeviceCheck device ids),
//! administrators' holds that stick, sign-in closed until configured, the
//! server's own session facts (id, the front's IP, the stored status) for
//! the hook, files the 4D server's group shares, and an answer an app can
//! use for every body. All through the real binaries.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::common::*;

/// `authenticate --json [--ip IP]` through the CLI: its answer and exit code.
fn sign_in(d: &Daemon, body: &Value, ip: Option<&str>) -> (Value, i32) {
    let mut args = vec!["--json", "authenticate"];
    if let Some(ip) = ip {
        args.extend(["--ip", ip]);
    }
    let out = d.cli_stdin(&args, &body.to_string());
    (answer(&out), out.status.code().unwrap_or(-1))
}

/// The one JSON value a command printed on stdout.
fn answer(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON value ({e}): {:?}; stderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Base64 of `n` bytes, as iOS sends a DeviceCheck token (`+`, `/`, `=`).
fn device_check_token(n: usize) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = (0..n).map(|i| (i * 251 % 256) as u8).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_real_iphone_signs_in_with_its_devicecheck_token() {
    let d = Daemon::start_open("");
    let token = device_check_token(2_048);
    assert_eq!(token.len(), 2_732);
    assert!(token.contains('+') && token.contains('/') && token.ends_with('='));
    let (first, code) = sign_in(&d, &ios_body(&token, "zoe@example.com"), None);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["success"], true);
    let id = first["id"].as_str().unwrap();
    // Stored byte for byte, and the same device finds the same session.
    let text = std::fs::read_to_string(d.file(IOS, id)).unwrap();
    assert!(text.contains(&format!("\"id\": \"{token}\"")));
    assert_eq!(read_json(&d.file(IOS, id))["device"]["id"], token.as_str());
    let (again, code) = sign_in(&d, &ios_body(&token, "zoe@example.com"), None);
    assert_eq!(code, 0, "{again}");
    assert_eq!(
        (&again["id"], &again["token"]),
        (&first["id"], &first["token"])
    );
    let rows = d.json(&["sessions", IOS]);
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    assert_eq!(
        stdout(&d.cli(&["verify", first["token"].as_str().unwrap()])).trim(),
        "accepted"
    );

    // 8 000 characters: still a device; a push finds nothing wrong.
    let long: String = "x+/=".repeat(2_000);
    let (r, code) = sign_in(&d, &android_body(&long, "li@example.com"), None);
    assert_eq!(code, 0, "{r}");
    let id = r["id"].as_str().unwrap();
    assert_eq!(
        read_json(&d.file(ANDROID, id))["device"]["id"],
        long.as_str()
    );
    assert_eq!(
        sign_in(&d, &android_body(&long, "li@example.com"), None).0["id"],
        id
    );
    assert_eq!(d.json(&["push", "--full"])["invalid"], json!([]));
    // Names that become paths keep their limit.
    let mut body = ios_body(&long, "li@example.com");
    body["team"]["id"] = "T".repeat(300).into();
    let (r, code) = sign_in(&d, &body, None);
    assert_eq!(code, 2, "{r}");
    assert!(
        r["statusText"]
            .as_str()
            .unwrap()
            .contains("team.id is 300 bytes long"),
        "{r}"
    );
}

#[test]
fn an_admins_hold_survives_a_sign_in_again_with_or_without_verify() {
    for extra in [
        "",
        "verify = true",
        "accept_email_domains = [\"example.com\"]",
    ] {
        let d = Daemon::start_open(extra);
        let body = ios_body("HOLD-1", "ana@example.com");
        let (first, _) = sign_in(&d, &body, None);
        let id = first["id"].as_str().unwrap().to_string();
        // Accepted first, by the rules or by an administrator.
        d.ok(&["accept", &id, "--push"]);
        let (r, code) = sign_in(&d, &body, None);
        assert_eq!(
            (r["status"].as_str(), code),
            (Some("accepted"), 0),
            "{extra}"
        );
        let token = r["token"].as_str().unwrap().to_string();
        // The administrator holds the device back.
        d.ok(&["set-status", "pending", &id, "--push"]);
        for email in ["ana@example.com", "ana.new@example.com"] {
            let (r, code) = sign_in(&d, &ios_body("HOLD-1", email), None);
            assert_eq!(code, 3, "{extra}, {email}: {r}");
            assert_eq!(r["id"], id.as_str());
            assert_eq!(r["status"], "pending", "{extra}, {email}");
            assert_eq!(r["token"], Value::Null);
            let doc = read_json(&d.file(IOS, &id));
            assert_eq!(
                (doc["status"].as_str(), doc["email"].as_str()),
                (Some("pending"), Some(email))
            );
            assert_eq!(d.cli(&["verify", &token]).status.code(), Some(3));
        }
        // Only an administrator lifts it.
        d.ok(&["accept", &id, "--push"]);
        let (r, code) = sign_in(&d, &ios_body("HOLD-1", "ana.new@example.com"), None);
        assert_eq!(
            (r["status"].as_str(), code),
            (Some("accepted"), 0),
            "{extra}"
        );
    }
}

#[test]
fn a_daemon_without_a_policy_refuses_every_sign_in_and_says_how_to_open_it() {
    let d = Daemon::start();
    let log = d.log_text();
    assert_eq!(log.matches("sign-in is closed").count(), 1, "{log}");
    assert!(log.contains("`sign_in = \"open\"` under [policy]"), "{log}");
    let before = snapshot(&d.apps_dir());
    for body in [
        ios_body("CLOSED-1", "ana@example.com"),
        ios_body(SEED_DEVICE, "ana@example.com"),
        android_body("closed-2", "li@example.com"),
    ] {
        let (r, code) = sign_in(&d, &body, Some("10.0.0.1"));
        assert_eq!(code, 4, "{r}");
        assert_eq!(r["success"], false);
        assert_eq!((&r["id"], &r["token"]), (&Value::Null, &Value::Null));
        assert!(
            r["statusText"]
                .as_str()
                .unwrap()
                .contains("not configured on this server"),
            "{r}"
        );
    }
    assert_eq!(snapshot(&d.apps_dir()), before, "a refusal wrote something");
    assert_eq!(stdout(&d.cli(&["verify", SEED_TOKEN])).trim(), "accepted");
    // verify or accept rules alone open nothing; the one line does.
    let d = Daemon::start_with(Opts {
        config: Some("[policy]\nverify = true\n".into()),
        ..Default::default()
    });
    assert_eq!(sign_in(&d, &ios_body("CLOSED-3", "a@b.c"), None).1, 4);
    let d = Daemon::start_open("verify = true");
    assert!(!d.log_text().contains("sign-in is closed"));
    assert_eq!(sign_in(&d, &ios_body("CLOSED-3", "a@b.c"), None).1, 3);
}

/// A hook that records each standard input as one line of `dir/seen` and
/// answers: refused when `dir/refuse` exists, accepted when `dir/accept`
/// exists, pending otherwise (4D's e-mail confirmation).
fn recording_hook(dir: &Path) -> String {
    let script = format!(
        "cat >> '{d}/seen'; echo >> '{d}/seen'; \
         if [ -e '{d}/refuse' ]; then echo '{{\"success\":false,\"statusText\":\"Blocked.\"}}'; \
         elif [ -e '{d}/accept' ]; then echo '{{\"success\":true}}'; \
         else echo '{{\"success\":true,\"verify\":true,\"statusText\":\"Check your e-mail.\"}}'; fi",
        d = dir.display()
    );
    format!(
        "[policy]\nhook = [\"/bin/sh\", \"-c\", {}]\n",
        Value::from(script)
    )
}

/// What the hook read at each call, in order.
fn seen(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("seen"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_hook_decides_every_sign_in_knowing_the_session_the_server_sees() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(Opts {
        config: Some(recording_hook(dir.path())),
        ..Default::default()
    });
    // The app's own session object is never trusted.
    let mut body = ios_body("HOOK-1", "ana@example.com");
    body["session"] = json!({"id": "ffff", "ip": "6.6.6.6", "role": "admin"});
    let (first, code) = sign_in(&d, &body, Some("::ffff:10.0.0.7"));
    assert_eq!(code, 3, "{first}");
    assert_eq!(first["statusText"], "Check your e-mail.");
    let id = first["id"].as_str().unwrap().to_string();
    let path = d.file(IOS, &id);
    assert_eq!(
        seen(dir.path())[0]["session"],
        json!({"id": id, "ip": "::ffff:10.0.0.7", "status": null})
    );
    assert_eq!(seen(dir.path())[0]["password"], "hunter2-secret");
    let doc = read_json(&path);
    assert_eq!(doc["session"], json!({"id": id, "ip": "::ffff:10.0.0.7"}));
    assert_eq!(doc["status"], "pending");

    // Again, still unconfirmed: told it is pending, from the new address.
    let (r, code) = sign_in(&d, &body, Some("10.0.0.8"));
    assert_eq!((code, &r["id"]), (3, &first["id"]));
    assert_eq!(
        seen(dir.path())[1]["session"],
        json!({"id": id, "ip": "10.0.0.8", "status": "pending"})
    );
    assert_eq!(
        read_json(&path)["session"],
        json!({"id": id, "ip": "10.0.0.8"})
    );

    // The link was followed: the hook accepts the pending session.
    std::fs::write(dir.path().join("accept"), "").unwrap();
    let (r, code) = sign_in(&d, &body, None);
    assert_eq!((code, r["status"].as_str()), (0, Some("accepted")), "{r}");
    assert_eq!(seen(dir.path())[2]["session"]["status"], "pending");
    assert_eq!(seen(dir.path())[2]["session"]["ip"], Value::Null);
    let token = r["token"].as_str().unwrap().to_string();
    assert_eq!(stdout(&d.cli(&["verify", &token])).trim(), "accepted");
    // No ip given: the one stored stays.
    assert_eq!(
        read_json(&path)["session"],
        json!({"id": id, "ip": "10.0.0.8"})
    );

    // Blocked now: an accepted session is refused, its file untouched.
    std::fs::write(dir.path().join("refuse"), "").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (r, code) = sign_in(
        &d,
        &ios_body("HOOK-1", "other@example.com"),
        Some("10.9.9.9"),
    );
    assert_eq!(code, 4, "{r}");
    assert_eq!(
        r,
        json!({"success": false, "id": null, "status": null, "token": null,
               "statusText": "Blocked.", "userInfo": null})
    );
    assert_eq!(seen(dir.path())[3]["session"]["status"], "accepted");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(stdout(&d.cli(&["verify", &token])).trim(), "accepted");

    // Nothing the app put in `session` reached the hook or the file.
    for s in seen(dir.path()) {
        let keys: Vec<&String> = s["session"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "ip", "status"]);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("6.6.6.6") && !text.contains("role") && !text.contains("ffff\""));
}

#[test]
fn an_ip_that_is_not_an_address_is_bad_usage() {
    let d = Daemon::start_open("");
    let before = snapshot(&d.apps_dir());
    for ip in ["example.com", "10.0.0.1:443", ""] {
        let (r, code) = sign_in(&d, &ios_body("IP-1", "a@b.c"), Some(ip));
        assert_eq!(code, 2, "{ip}: {r}");
        assert!(
            r["statusText"]
                .as_str()
                .unwrap()
                .contains("is not an IP address"),
            "{r}"
        );
    }
    assert_eq!(snapshot(&d.apps_dir()), before);
}

#[test]
fn bad_bodies_get_4d_shaped_answers() {
    let d = Daemon::start_open("");
    let before = snapshot(&d.apps_dir());
    let huge = format!("{{\"p\":\"{}\"}}", "x".repeat(2 << 20));
    for (body, why) in [
        ("not json".to_string(), "not JSON"),
        ("[1]".to_string(), "not a JSON object"),
        ("{}".to_string(), "no application.id"),
        (
            json!({"application": {"id": 7}}).to_string(),
            "application.id must be a string",
        ),
        (
            json!({"application": {"id": "com.x"}, "device": "x"}).to_string(),
            "device must be an object",
        ),
        (
            format!("{{\"p\":\"{}\"}}", "x".repeat(70_000)),
            "at most 65536",
        ),
        (huge, "larger than mobile-sessiond accepts"),
    ] {
        let out = d.cli_stdin(&["--json", "authenticate"], &body);
        assert_eq!(out.status.code(), Some(2), "{why}: {}", stderr(&out));
        let r = answer(&out);
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["success", "id", "status", "token", "statusText", "userInfo"]
        );
        assert_eq!(r["success"], false);
        assert!(
            r["statusText"].as_str().unwrap().contains(why),
            "{why}: {r}"
        );
        // The error is on stderr, as before.
        assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
    }
    assert_eq!(snapshot(&d.apps_dir()), before);
}

#[test]
fn user_info_and_logout_answers_carry_ok() {
    let d = Daemon::start();
    let out = d.cli_stdin(
        &["--json", "user-info", SEED_TOKEN],
        "{\"userInfo\":{\"plan\":\"pro\"},\"device\":{\"token\":\"apns-1\"}}",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = answer(&out);
    assert_eq!(r["ok"], true, "{r}");
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ok", "app", "id", "path", "status", "changed"]);
    assert_eq!((&r["id"], &r["changed"]), (&json!(SEED_ID), &json!(true)));
    // A bad body, an unknown token: `ok` false, why, and the usual exit code.
    let out = d.cli_stdin(&["--json", "user-info", SEED_TOKEN], "{\"userInfo\":3}");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(answer(&out)["ok"], false);
    let out = d.cli(&["--json", "logout", IPAD_TOKEN]);
    assert_eq!(out.status.code(), Some(4));
    let r = answer(&out);
    assert_eq!(r["ok"], false);
    assert!(r["statusText"].is_string(), "{r}");

    let out = d.cli(&["--json", "logout", SEED_TOKEN]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = answer(&out);
    assert_eq!(
        (&r["ok"], &r["status"], &r["changed"]),
        (&json!(true), &Value::Null, &json!(true))
    );
    assert!(!d.file(IOS, SEED_ID).exists());
    let out = d.cli(&["--json", "logout", SEED_TOKEN]);
    assert_eq!(
        (out.status.code(), answer(&out)["ok"].clone()),
        (Some(4), json!(false))
    );
}

/// Mode bits and group of a path.
fn mode_and_group(path: &Path) -> (u32, u32) {
    let m = std::fs::metadata(path).unwrap();
    (m.mode() & 0o7777, m.gid())
}

#[test]
fn new_files_and_folders_are_the_4d_servers_group_to_read_and_write() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (to give MobileApps to another group)");
        return;
    }
    // A group other than the daemon's (root's) own, as the 4D server's.
    let group = ["users", "nogroup", "staff"]
        .into_iter()
        .find_map(|g| {
            std::fs::read_to_string("/etc/group")
                .ok()?
                .lines()
                .any(|l| l.starts_with(&format!("{g}:")))
                .then(|| gid_of(g))
        })
        .expect("no users, nogroup or staff group on this machine");
    for (file_mode, want_file, want_folder) in
        [(None, 0o660, 0o2770), (Some("0640"), 0o640, 0o2750)]
    {
        let mut config = OPEN_SIGN_IN.to_string();
        if let Some(m) = file_mode {
            config = format!("file_mode = \"{m}\"\n{config}");
        }
        let opts = Opts {
            config: Some(config),
            // A umask that would close everything: the modes are set, not masked.
            umask: Some(0o077),
            ..Default::default()
        };
        let mut d = Daemon::prepare(&opts);
        // MobileApps belongs to the 4D server's group, setgid.
        let apps = d.apps_dir();
        std::os::unix::fs::chown(&apps, None, Some(group)).unwrap();
        std::fs::set_permissions(&apps, std::fs::Permissions::from_mode(0o2770)).unwrap();
        // An app folder of that group without the setgid bit.
        let android = apps.join(ANDROID);
        std::os::unix::fs::chown(&android, None, Some(group)).unwrap();
        std::fs::set_permissions(&android, std::fs::Permissions::from_mode(0o750)).unwrap();
        // A session the 4D server owns, with a mode of its own.
        let seed = d.file(IOS, SEED_ID);
        std::os::unix::fs::chown(&seed, Some(NOBODY), Some(group)).unwrap();
        std::fs::set_permissions(&seed, std::fs::Permissions::from_mode(0o640)).unwrap();
        d.spawn(&opts);

        // A new app: its folder takes MobileApps' group, setgid, group rwx.
        let mut body = android_body("NEW-APP-1", "a@example.com");
        body["application"]["id"] = "com.brand.new".into();
        let (r, code) = sign_in(&d, &body, None);
        assert_eq!(code, 0, "{r}");
        let folder = apps.join("com.brand.new");
        assert_eq!(
            mode_and_group(&folder),
            (want_folder, group),
            "{file_mode:?}"
        );
        let file = folder.join(r["id"].as_str().unwrap());
        assert_eq!(mode_and_group(&file), (want_file, group), "{file_mode:?}");

        // A new session in a folder of that group: the folder's group.
        let (r, _) = sign_in(&d, &android_body("NEW-DROID-1", "a@example.com"), None);
        let file = android.join(r["id"].as_str().unwrap());
        assert_eq!(mode_and_group(&file), (want_file, group), "{file_mode:?}");
        assert_eq!(mode_and_group(&android), (0o750, group));

        // A rewrite keeps owner, group and mode.
        let (r, _) = sign_in(&d, &ios_body(SEED_DEVICE, "new@example.com"), None);
        assert_eq!(r["id"], SEED_ID);
        assert_eq!(read_json(&seed)["email"], "new@example.com");
        let meta = std::fs::metadata(&seed).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (NOBODY, group, 0o640)
        );
        assert_eq!(d.json(&["push", "--full"])["invalid"], json!([]));
    }
}
