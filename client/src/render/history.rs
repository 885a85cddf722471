//! `history`: the changes made through the daemon, oldest first.

use mobile_session::proto::AuditRecord;
use serde_json::{json, Value};

use super::{shortened, table, Cell, View};

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn time(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// `[{"time", "uid", "pid", "process", "action", "app", "id", "before", "after"}]`.
pub fn history(records: &[AuditRecord], view: &View) -> String {
    if view.json {
        let all: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "time": time(r.time_ms), "uid": r.uid, "pid": r.pid,
                    "process": r.process, "action": r.action, "app": r.app,
                    "id": r.id, "before": value(&r.before), "after": value(&r.after),
                })
            })
            .collect();
        return format!("{}\n", Value::Array(all));
    }
    let shown = |v: Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    };
    let rows = records
        .iter()
        .map(|r| {
            let who = match (r.uid, &r.process) {
                (Some(uid), Some(p)) => format!("{uid} ({p})"),
                (Some(uid), None) => uid.to_string(),
                (None, _) => String::new(),
            };
            let (before, after) = (shown(value(&r.before)), shown(value(&r.after)));
            let change = match (before.is_empty(), after.is_empty()) {
                (true, true) => String::new(),
                (true, false) => after,
                (false, true) => format!("{before} → (none)"),
                (false, false) => format!("{before} → {after}"),
            };
            vec![
                Cell::from(time(r.time_ms)),
                Cell::from(who),
                Cell::from(r.action.as_str()),
                Cell::from(r.app.clone().unwrap_or_default()),
                Cell::from(r.id.clone().unwrap_or_default()),
                Cell::from(shortened(&change, 120)),
            ]
        })
        .collect();
    table(
        view,
        &["TIME", "UID", "ACTION", "APP", "ID", "CHANGE"],
        rows,
    )
}
