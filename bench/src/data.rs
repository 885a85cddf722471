//! The data set: `n` valid sessions over 20 apps, the same for the same
//! `n`. Made in a temporary folder, or kept in `BENCH_DATA` between runs:
//! then each run puts it back as generated (files a run changed or added
//! are rewritten or removed) instead of writing every file again.

use std::collections::HashSet;
use std::path::Path;

const TEAM: &str = "BENCHTEAM1";

/// Session `i`: its folder, id, file text and token.
fn session(i: usize) -> (String, String, String, String) {
    use base64::Engine;
    let app = format!("com.bench.app{}", i % 20);
    let id = format!(
        "{:040x}",
        (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C) & ((1u128 << 120) - 1)
    );
    let claims = format!("{{\"appNameID\":\"{app}\",\"id\":\"{id}\",\"teamID\":\"{TEAM}\"}}");
    let token = base64::engine::general_purpose::STANDARD_NO_PAD.encode(claims);
    let doc = serde_json::json!({
        "application": {"id": app, "name": "Bench", "version": "1.0.0"},
        "team": {"id": TEAM},
        "language": {"id": "en_US", "code": "en", "region": "US"},
        "email": format!("user{i}@example.com"),
        "device": {"description": "iPhone 15", "version": "17.4", "os": "iOS", "id": format!("DEVICE-{i:08}"), "simulator": false},
        "send": "link",
        "session": {"id": id, "ip": "::ffff:192.168.5.4"},
        "status": "accepted",
        "token": token,
    });
    let text = serde_json::to_string_pretty(&doc).expect("json");
    (format!("{TEAM}.{app}"), id, text, token)
}

/// Makes (or puts back) the data set of `n` sessions under `data`;
/// returns the files' bytes and the tokens, by session.
pub fn prepare(data: &Path, n: usize) -> (u64, Vec<String>) {
    let root = data.join("MobileApps");
    let marker = data.join(format!(".bench-{n}"));
    let reuse = marker.exists();
    let mut bytes = 0u64;
    let mut tokens = Vec::with_capacity(n);
    let mut ours: HashSet<(String, String)> = HashSet::new();
    for i in 0..n {
        let (folder, id, text, token) = session(i);
        let dir = root.join(&folder);
        if i < 20 {
            std::fs::create_dir_all(&dir).expect("create the app folder");
        }
        let path = dir.join(&id);
        // A file a run changed (a status flipped) has another size.
        let intact =
            reuse && std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() == text.len() as u64);
        if !intact {
            std::fs::write(&path, &text).expect("write a session file");
        }
        bytes += text.len() as u64;
        tokens.push(token);
        if reuse {
            ours.insert((folder, id));
        }
    }
    if reuse {
        // Files a run added (the change-visible figure writes some).
        for app in std::fs::read_dir(&root).expect("list MobileApps").flatten() {
            let folder = app.file_name().to_string_lossy().to_string();
            for f in std::fs::read_dir(app.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let id = f.file_name().to_string_lossy().to_string();
                if !ours.contains(&(folder.clone(), id)) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    } else {
        std::fs::write(&marker, "").expect("write the marker");
    }
    (bytes, tokens)
}
