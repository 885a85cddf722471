//! A status change rewrites the file with only `status` different: every
//! other value, the key order, unknown fields, Unicode and a BOM survive.

use crate::common::*;
use serde_json::{Map, Value};
use std::os::unix::fs::PermissionsExt;

fn parsed(bytes: &[u8]) -> Map<String, Value> {
    let text = std::str::from_utf8(bytes)
        .unwrap()
        .trim_start_matches('\u{feff}');
    serde_json::from_str(text).unwrap()
}

/// Asserts that `after` equals `before` except for `status`, keys in the same order.
fn only_status_changed(before: &[u8], after: &[u8], status: &str) {
    let (b, a) = (parsed(before), parsed(after));
    assert_eq!(
        b.keys().collect::<Vec<_>>(),
        a.keys().collect::<Vec<_>>(),
        "key order changed"
    );
    for (k, v) in &b {
        if k == "status" {
            assert_eq!(a[k], status);
        } else {
            assert_eq!(&a[k], v, "field {k} changed");
        }
    }
}

#[test]
fn samples_change_only_status() {
    let d = Daemon::start();
    for (app, id) in [(IOS, SEED_ID), (IOS, IPAD_ID), (ANDROID, ANDROID_ID)] {
        let path = d.file(app, id);
        let before = std::fs::read(&path).unwrap();
        let target = if parsed(&before)["status"] == "accepted" {
            "pending"
        } else {
            "accepted"
        };
        d.ok(&["set-status", target, id]);
        let after = std::fs::read(&path).unwrap();
        only_status_changed(&before, &after, target);
        // Layout (pretty or compact) is kept byte for byte around the value.
        let expected = String::from_utf8(before.clone()).unwrap().replacen(
            &format!(
                "\"status\": \"{}\"",
                if target == "pending" {
                    "accepted"
                } else {
                    "pending"
                }
            ),
            &format!("\"status\": \"{target}\""),
            1,
        );
        assert_eq!(String::from_utf8(after).unwrap(), expected, "{id}");
    }
}

#[test]
fn unknown_fields_unicode_bom_crlf_survive() {
    let d = Daemon::start();
    let id = "0dc5132e1ef4407ca8325fe33d818af3";
    let mut doc = session_json(
        "com.contactApp.Contact",
        Some("UTT7VDX8W5"),
        &id.to_uppercase(),
        "pending",
    );
    doc["userInfo"] = serde_json::json!({"nested": {"deep": [1, 2.50, {"x": null}], "big": 12345678901234567890u64}});
    doc["device"]["description"] = "Téléphone de Zoë 📱 — 日本語".into();
    doc["device"]["jb"] = false.into();
    doc["futureField"] = serde_json::json!({"z": 1, "a": 2});
    let text = format!(
        "\u{feff}{}",
        serde_json::to_string_pretty(&doc)
            .unwrap()
            .replace('\n', "\r\n")
    );
    // 32 upper-case hex chars: a newer 4D's UUID-style id.
    let name = id.to_uppercase();
    let path = d.file(IOS, &name);
    std::fs::write(&path, &text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    d.ok(&["refresh"]);
    d.ok(&["accept", &id[..10]]);
    let after = std::fs::read(&path).unwrap();
    assert!(after.starts_with(b"\xEF\xBB\xBF"), "BOM kept");
    only_status_changed(text.as_bytes(), &after, "accepted");
    assert_eq!(
        String::from_utf8(after).unwrap(),
        text.replace("\"status\": \"pending\"", "\"status\": \"accepted\""),
        "every other byte kept (CRLF, number spelling, nested order)"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644,
        "mode kept"
    );
    // No temporary left behind.
    let names: Vec<String> = std::fs::read_dir(d.apps_dir().join(IOS))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    // `show` gives it back as stored.
    let shown = d.json(&["show", &name]);
    assert_eq!(
        shown["device"]["description"],
        "Téléphone de Zoë 📱 — 日本語"
    );
}

#[test]
fn invalid_files_are_never_rewritten() {
    let d = Daemon::start();
    let id = "abcdabcd00000000000000000000000000000000";
    let mut doc = session_json("com.contactApp.Contact", Some("UTT7VDX8W5"), id, "pending");
    doc["token"] = "bm90IGEgdG9rZW4".into();
    let path = d.file(IOS, id);
    std::fs::write(&path, doc.to_string()).unwrap();
    d.ok(&["refresh"]);
    let out = d.cli(&["accept", id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("code 4"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), doc.to_string().as_bytes());
}
