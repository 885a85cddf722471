//! `block`, `unblock` and `blocked`.

use mobile_session::proto::{BlockEntry, BlockReport};
use serde_json::{json, Value};

use super::change::changed_json;
use super::{rfc3339, shortened, table, Cell, View};

/// How long a device id is shown in a table (an iOS DeviceCheck id is
/// thousands of characters; `--json` has it whole).
const DEVICE_SHOWN: usize = 40;

fn entry_json(e: &BlockEntry) -> Value {
    json!({
        "app": e.app,
        "device": e.device,
        "reason": e.reason,
        "time": rfc3339(e.time_ms),
        "uid": e.uid,
        "user": e.user,
        "process": e.process,
    })
}

fn who(e: &BlockEntry) -> String {
    let user = match (&e.user, e.uid) {
        (Some(u), _) => u.clone(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => String::new(),
    };
    match &e.process {
        Some(p) => format!("{user} ({p})"),
        None => user,
    }
}

/// `{"blocked": [entries], "sessions": [{"app","id","path","status","changed"}]}`.
pub fn blocks(r: &BlockReport, view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = r.sessions.iter().map(changed_json).collect();
        let entries: Vec<Value> = r.entries.iter().map(entry_json).collect();
        return format!("{}\n", json!({"blocked": entries, "sessions": sessions}));
    }
    if view.quiet {
        return r.sessions.iter().map(|s| format!("{}\n", s.id)).collect();
    }
    let mut out = String::new();
    for e in &r.entries {
        let device = shortened(&e.device, DEVICE_SHOWN);
        out.push_str(&format!(
            "blocked: {} device {}\n",
            e.app,
            super::printable(&device)
        ));
    }
    for s in &r.sessions {
        out.push_str(&format!(
            "deleted and out of the live view: {}/{}\n",
            s.app, s.id
        ));
    }
    out
}

/// `{"app", "device", "changed"}`: `changed` false when it was not blocked.
pub fn unblocked(app: &str, device: &str, lifted: Option<&BlockEntry>, view: &View) -> String {
    let (app, device) = lifted.map_or((app, device), |e| (e.app.as_str(), e.device.as_str()));
    if view.json {
        let out = json!({"app": app, "device": device, "changed": lifted.is_some()});
        return format!("{out}\n");
    }
    if view.quiet {
        return String::new();
    }
    let device = super::printable(&shortened(device, DEVICE_SHOWN));
    match lifted {
        Some(_) => format!("unblocked: {app} device {device}\n"),
        None => format!("not blocked: {app} device {device}\n"),
    }
}

/// `[{"app", "device", "reason", "time", "uid", "user", "process"}]`.
pub fn blocked(list: &[BlockEntry], view: &View) -> String {
    if view.json {
        let all: Vec<Value> = list.iter().map(entry_json).collect();
        return format!("{}\n", Value::Array(all));
    }
    if view.quiet {
        return list.iter().map(|e| format!("{}\n", e.device)).collect();
    }
    let rows = list
        .iter()
        .map(|e| {
            vec![
                Cell::from(e.app.as_str()),
                Cell::from(shortened(&e.device, DEVICE_SHOWN)),
                Cell::from(e.reason.clone().unwrap_or_default()),
                Cell::from(rfc3339(e.time_ms)),
                Cell::from(who(e)),
            ]
        })
        .collect();
    table(view, &["APP", "DEVICE", "REASON", "TIME", "BY"], rows)
}
