//! `apps` and `refresh`.

use mobile_session::AppRow;
use serde_json::{json, Value};

use super::{table, Cell, View};

pub fn app_json(a: &AppRow) -> Value {
    let mut v = json!({
        "folder": a.folder,
        "app_id": a.app_id,
        "name": a.name,
        "team_id": a.team_id,
        "sessions": a.sessions,
        "pending": a.pending,
    });
    if a.unreadable {
        v["unreadable"] = Value::Bool(true);
    }
    v
}

pub fn apps(apps: &[AppRow], view: &View) -> String {
    if view.json {
        return format!("{}\n", Value::Array(apps.iter().map(app_json).collect()));
    }
    if view.quiet {
        return apps.iter().map(|a| format!("{}\n", a.folder)).collect();
    }
    let rows = apps
        .iter()
        .map(|a| {
            vec![
                Cell::from(a.folder.as_str()),
                Cell::from(a.app_id.as_str()),
                Cell::from(a.name.clone().unwrap_or_default()),
                Cell::from(a.team_id.clone().unwrap_or_default()),
                Cell::from(a.sessions.to_string()),
                Cell::from(a.pending.to_string()),
            ]
        })
        .collect();
    table(
        view,
        &["FOLDER", "APP ID", "NAME", "TEAM", "SESSIONS", "PENDING"],
        rows,
    )
}
