//! File safety: path-like arguments are refused, symlinks out of MobileApps
//! are never followed, and non-session files are never touched.

use crate::common::*;
use std::os::unix::fs::symlink;

#[test]
fn path_like_arguments_are_refused() {
    let d = Daemon::start();
    let before = snapshot(d.dir.path());
    for arg in [
        "../Data",
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        "a/b/c",
        &format!("{IOS}/../{SEED_ID}"),
        &format!("../{IOS}/{SEED_ID}"),
        "7023/..",
        &format!("/{IOS}/{SEED_ID}"),
    ] {
        for cmd in [
            &["show", arg][..],
            &["path", arg],
            &["delete", arg],
            &["accept", arg],
            &["set-status", "pending", arg],
        ] {
            // The client refuses them as bad usage before asking the daemon.
            let out = d.cli(cmd);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} must fail");
            assert!(
                stderr(&out).starts_with("error:"),
                "{cmd:?}: {}",
                stderr(&out)
            );
        }
        let out = d.cli(&["sessions", arg]);
        assert_eq!(out.status.code(), Some(2), "sessions {arg}");
    }
    assert_eq!(snapshot(d.dir.path()), before);
}

#[tokio::test]
async fn the_daemon_refuses_path_like_arguments_itself() {
    // The library sends arguments as given: the daemon's own check counts.
    let d = Daemon::start();
    let before = snapshot(d.dir.path());
    let c = mobile_session::Client::connect(&d.socket).await.unwrap();
    for arg in [
        "../Data".to_string(),
        "/etc/passwd".into(),
        "..".into(),
        format!("{IOS}/../{SEED_ID}"),
        format!("../{IOS}/{SEED_ID}"),
    ] {
        let code = |r: Result<_, mobile_session::ClientError>| r.err().and_then(|e| e.code());
        let bad = Some(mobile_session::ErrorCode::BadRequest);
        assert_eq!(code(c.show(&arg).await.map(drop)), bad, "show {arg}");
        assert_eq!(code(c.path(&arg).await.map(drop)), bad, "path {arg}");
        assert_eq!(
            code(c.delete(std::slice::from_ref(&arg), false).await.map(drop)),
            bad,
            "delete {arg}"
        );
        assert_eq!(
            code(
                c.set_status(
                    mobile_session::Status::Accepted,
                    std::slice::from_ref(&arg),
                    false
                )
                .await
                .map(drop)
            ),
            bad,
            "accept {arg}"
        );
    }
    assert_eq!(snapshot(d.dir.path()), before);
}

#[tokio::test]
async fn nul_bytes_are_refused() {
    let d = Daemon::start();
    let c = mobile_session::Client::connect(&d.socket).await.unwrap();
    for arg in ["7023\0", &format!("{IOS}\0/{SEED_ID}")] {
        let e = c.show(arg).await.unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        let e = c.delete(&[arg.to_string()], false).await.unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }
    let e = c
        .sessions(mobile_session_proto::SessionFilter {
            app: Some("a\0b".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");
    assert!(d.file(IOS, SEED_ID).exists());
}

#[test]
fn symlinks_out_of_mobileapps_are_not_followed() {
    let d = Daemon::start();
    let outside = d.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victim_id = "9999999999999999999999999999999999999999";
    let doc = session_json("com.evil", Some("EVILTEAM00"), victim_id, "pending");
    std::fs::write(outside.join(victim_id), doc.to_string()).unwrap();
    // A symlinked app folder and a symlinked session file.
    symlink(&outside, d.apps_dir().join("EVILTEAM00.com.evil")).unwrap();
    let link_id = "8888888888888888888888888888888888888888";
    symlink(outside.join(victim_id), d.file(IOS, link_id)).unwrap();
    let before = snapshot(&outside);
    d.ok(&["refresh"]);
    d.ok(&["push"]);
    for cmd in [
        &["accept", victim_id][..],
        &["delete", victim_id],
        &["accept", link_id],
        &["delete", link_id],
        &["accept", &format!("EVILTEAM00.com.evil/{victim_id}")],
        &["delete", &format!("EVILTEAM00.com.evil/{victim_id}")],
    ] {
        assert!(!d.cli(cmd).status.success(), "{cmd:?} must fail");
    }
    assert_eq!(snapshot(&outside), before);
    assert!(std::fs::symlink_metadata(d.file(IOS, link_id))
        .unwrap()
        .file_type()
        .is_symlink());
    let apps = d.json(&["apps"]);
    assert!(apps
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["folder"] != "EVILTEAM00.com.evil"));
}

#[test]
fn non_session_files_are_byte_identical_after_every_command() {
    let d = Daemon::start();
    let others = [
        d.apps_dir().join("key.mobileapp"),
        d.apps_dir().join(IOS).join("manifest.json"),
        d.apps_dir().join(IOS).join("AuthKey_4S3T2R1Q0P.p8"),
        d.apps_dir().join(ANDROID).join("manifest.json"),
        d.apps_dir().join(ANDROID).join("google-services.json"),
        d.apps_dir().join(ANDROID).join("abcd.tmp"),
        d.apps_dir().join(ANDROID).join(".hidden"),
    ];
    std::fs::write(&others[4], "{\"project_info\":{}}").unwrap();
    std::fs::write(&others[5], "temp").unwrap();
    std::fs::write(&others[6], "dot").unwrap();
    let before: Vec<Vec<u8>> = others.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let cmds: &[&[&str]] = &[
        &["apps"],
        &["sessions"],
        &["show", "7023"],
        &["path", "7023"],
        &["set-status", "pending", "7023", "--push"],
        &["accept", "a6a3", "--push"],
        &["refresh"],
        &["push"],
        &["push", "--full"],
        &["status"],
        &["verify", ANDROID_TOKEN],
        &["delete", "1818", "--push"],
    ];
    for cmd in cmds {
        d.ok(cmd);
        let now: Vec<Vec<u8>> = others.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert_eq!(now, before, "after {cmd:?}");
    }
    // Non-hex names are not sessions.
    let s = d.json(&["status"]);
    assert_eq!(s["invalid"], 0);
}
