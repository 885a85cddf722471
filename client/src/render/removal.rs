//! What `purge` and `dedupe` deleted, or would delete (`--dry-run`).

use mobile_session::proto::{RemovalReport, RemovedSession};
use serde_json::{json, Value};

use super::change::push_json;
use super::{ago, rfc3339, table, Cell, View};

fn removed_json(s: &RemovedSession) -> Value {
    json!({
        "app": s.app,
        "id": s.id,
        "path": s.path,
        "status": s.status.map(|x| x.as_str()),
        "device": serde_json::from_str::<Value>(&s.device).unwrap_or(Value::Null),
        "last_seen": s.last_seen_ms.map(rfc3339),
        "modified": s.modified_ms.map(rfc3339),
        "kept": s.kept,
        "changed": s.changed,
    })
}

/// `{"dry_run", "cutoff", "sessions": [...], "push"}`, or a table of the
/// sessions with what they were last seen and written, and the one kept in
/// place of each (`dedupe`).
pub fn removal(r: &RemovalReport, view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = r.sessions.iter().map(removed_json).collect();
        let out = json!({
            "dry_run": r.dry_run,
            "cutoff": r.cutoff_ms.map(rfc3339),
            "sessions": sessions,
            "push": r.push.as_ref().map(push_json),
        });
        return format!("{out}\n");
    }
    if view.quiet {
        return r.sessions.iter().map(|s| format!("{}\n", s.id)).collect();
    }
    let dedupe = r.sessions.iter().any(|s| s.kept.is_some());
    let rows = r
        .sessions
        .iter()
        .map(|s| {
            let device: Value = serde_json::from_str(&s.device).unwrap_or(Value::Null);
            let description = device.get("description").and_then(Value::as_str);
            let done = match (r.dry_run, s.changed) {
                (true, _) => "would delete",
                (false, true) => "deleted",
                (false, false) => "kept (changed or seen meanwhile)",
            };
            let mut cells = vec![
                Cell::from(done),
                Cell::from(s.app.as_str()),
                Cell::from(s.id.as_str()),
                Cell::from(description.unwrap_or("")),
                Cell::from(ago(s.last_seen_ms)),
                Cell::from(ago(s.modified_ms)),
            ];
            if dedupe {
                cells.push(Cell::from(s.kept.clone().unwrap_or_default()));
            }
            cells
        })
        .collect();
    let header = ["", "APP", "ID", "DEVICE", "LAST SEEN", "WRITTEN", "KEPT"];
    let mut out = table(view, &header[..header.len() - usize::from(!dedupe)], rows);
    if let Some(p) = &r.push {
        out.push_str(&format!("pushed: {p}\n"));
    }
    out
}
