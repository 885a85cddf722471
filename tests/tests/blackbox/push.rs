//! Push matches `MOBILE APP REFRESH SESSIONS`: edits and deletes are not live
//! before a push and are after; invalid files are reported with 4D's codes
//! 1–4, leave the live view, and are never modified.

use crate::common::*;
use serde_json::{json, Value};

fn verify(d: &Daemon, token: &str) -> (i32, String) {
    let out = d.cli(&["verify", token]);
    (out.status.code().unwrap(), stdout(&out).trim().to_string())
}

#[test]
fn external_edit_and_delete_apply_at_push() {
    let d = Daemon::start();
    let path = d.file(IOS, SEED_ID);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"accepted\"", "\"pending\"");
    std::fs::write(&path, text).unwrap();
    assert_eq!(
        verify(&d, SEED_TOKEN),
        (0, "accepted".into()),
        "not live before push"
    );
    let p = d.json(&["push"]);
    assert_eq!(p["updated"], 1);
    assert_eq!(verify(&d, SEED_TOKEN), (3, "pending".into()));

    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    assert_eq!(
        verify(&d, ANDROID_TOKEN).0,
        0,
        "a deleted file stays live until push"
    );
    let p = d.json(&["push"]);
    assert_eq!(
        p,
        json!({"added": 0, "updated": 0, "removed": 1, "unchanged": 2, "invalid": []})
    );
    assert_eq!(verify(&d, ANDROID_TOKEN), (4, "unknown".into()));

    let id = "1234567890abcdef1234567890abcdef12345678";
    std::fs::write(
        d.file(ANDROID, id),
        session_json(ANDROID, None, id, "accepted").to_string(),
    )
    .unwrap();
    assert_eq!(d.json(&["push"])["added"], 1);
}

#[test]
fn each_validity_code_is_reported_and_leaves_live_view() {
    let d = Daemon::start();
    let team = Some("UTT7VDX8W5");
    let app = "com.contactApp.Contact";
    let ids = [
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
        "3333333333333333333333333333333333333333",
        "4444444444444444444444444444444444444444",
    ];
    for id in ids {
        std::fs::write(
            d.file(IOS, id),
            session_json(app, team, id, "accepted").to_string(),
        )
        .unwrap();
    }
    let p = d.json(&["push"]);
    assert_eq!(p["added"], 4);
    let tokens: Vec<String> = ids
        .iter()
        .map(|id| {
            session_json(app, team, id, "accepted")["token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for t in &tokens {
        assert_eq!(verify(&d, t).0, 0);
    }
    // 1: the content names another folder (team changed).
    let mut c1 = session_json(app, team, ids[0], "accepted");
    c1["team"]["id"] = "OTHERTEAM".into();
    std::fs::write(d.file(IOS, ids[0]), c1.to_string()).unwrap();
    // 2: not JSON.
    std::fs::write(d.file(IOS, ids[1]), "{\"application\": ").unwrap();
    // 3: no status.
    let mut c3 = session_json(app, team, ids[2], "accepted");
    c3.as_object_mut().unwrap().remove("status");
    std::fs::write(d.file(IOS, ids[2]), c3.to_string()).unwrap();
    // 4: a token of another session.
    let mut c4 = session_json(app, team, ids[3], "accepted");
    c4["token"] = SEED_TOKEN.into();
    std::fs::write(d.file(IOS, ids[3]), c4.to_string()).unwrap();
    let snap = snapshot(&d.apps_dir());

    // Before the push they are still live, and marked invalid.
    d.ok(&["refresh"]);
    assert_eq!(d.unpushed(ids[1]), Some(json!("invalid")));
    let p = d.json(&["push"]);
    assert_eq!(p["removed"], 4);
    let mut got: Vec<(String, u64)> = p["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert!(!i["error"].as_str().unwrap().is_empty());
            let path = i["path"].as_str().unwrap();
            (
                path.rsplit('/').next().unwrap().to_string(),
                i["code"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        ids.iter()
            .zip([1, 2, 3, 4])
            .map(|(i, c)| (i.to_string(), c))
            .collect::<Vec<_>>()
    );
    for t in &tokens {
        assert_eq!(verify(&d, t).0, 4, "invalid sessions leave the live view");
    }
    // Reported again by the next push; files untouched; daemon fine.
    assert_eq!(d.json(&["push"])["invalid"].as_array().unwrap().len(), 4);
    assert_eq!(snapshot(&d.apps_dir()), snap);
    let s = d.json(&["status"]);
    assert_eq!(s["invalid"], 4);
    assert_eq!(s["live"], 3);
    // Once pushed, an invalid file is listed for what it is: no session
    // data, its code; `--invalid` lists only those.
    let rows: Vec<Value> = d.json(&["sessions"]).as_array().unwrap().clone();
    assert_eq!(rows.len(), 7);
    let bad: Vec<&Value> = rows
        .iter()
        .filter(|r| r["unpushed"].is_null() && r["status"].is_null())
        .collect();
    assert_eq!(bad.len(), 4, "{rows:?}");
    assert!(bad
        .iter()
        .all(|r| r["code"].is_number() && r["error"].is_string()));
    assert_eq!(
        d.json(&["sessions", "--invalid"]).as_array().unwrap().len(),
        4
    );
    assert_eq!(
        d.json(&["sessions", "--status", "accepted"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn several_faults_get_the_first_code_in_4d_order() {
    let d = Daemon::start();
    let id = "5555555555555555555555555555555555555555";
    // Wrong folder + bad token + no status: schema (3) wins.
    let mut doc = session_json("com.other", None, id, "accepted");
    doc["token"] = "xx".into();
    doc.as_object_mut().unwrap().remove("status");
    std::fs::write(d.file(IOS, id), doc.to_string()).unwrap();
    let p = d.json(&["push"]);
    assert_eq!(p["invalid"][0]["code"], 3);
    // Wrong folder + bad token: location (1) before token (4).
    doc["status"] = "accepted".into();
    std::fs::write(d.file(IOS, id), doc.to_string()).unwrap();
    assert_eq!(d.json(&["push"])["invalid"][0]["code"], 1);
}

#[test]
fn sighup_pushes() {
    let d = Daemon::start();
    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    d.signal(libc::SIGHUP);
    wait_until("SIGHUP pushed the delete", || {
        verify(&d, ANDROID_TOKEN).0 == 4
    });
}
