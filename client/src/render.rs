//! Human tables and the exact `--json` shapes of the contract (design §4).

use mobile_session_proto::{AppRow, ChangeReport, DaemonStatus, Event, PushReport, SessionRow};
use serde_json::{json, Value};

/// Prints rows as left-aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

pub fn app_json(a: &AppRow) -> Value {
    let mut v = json!({
        "folder": a.folder,
        "app_id": a.app_id,
        "name": a.name,
        "team_id": a.team_id,
        "sessions": a.sessions,
        "pending": a.pending,
    });
    // Only when it is so: the usual row keeps the usual keys.
    if a.unreadable {
        v["unreadable"] = Value::Bool(true);
    }
    v
}

pub fn apps(apps: &[AppRow], as_json: bool) {
    if as_json {
        println!("{}", Value::Array(apps.iter().map(app_json).collect()));
        return;
    }
    if apps.is_empty() {
        eprintln!("no app folder in MobileApps yet");
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                a.folder.clone(),
                a.app_id.clone(),
                a.name.clone().unwrap_or_default(),
                a.team_id.clone().unwrap_or_default(),
                a.sessions.to_string(),
                a.pending.to_string(),
            ]
        })
        .collect();
    table(
        &["FOLDER", "APP ID", "NAME", "TEAM", "SESSIONS", "PENDING"],
        &rows,
    );
}

fn device_of(s: &SessionRow) -> Value {
    serde_json::from_str(&s.device).unwrap_or(Value::Null)
}

pub fn sessions(rows: &[SessionRow], as_json: bool) {
    if as_json {
        let arr: Vec<Value> = rows
            .iter()
            .map(|s| {
                json!({
                    "app": s.app,
                    "id": s.id,
                    "status": s.status.map(|x| x.as_str()),
                    "email": s.email,
                    "device": device_of(s),
                    "path": s.path,
                    "unpushed": s.unpushed.map(|u| u.as_str()),
                })
            })
            .collect();
        println!("{}", Value::Array(arr));
        return;
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            let d = device_of(s);
            let os = format!("{} {}", text(&d, "os"), text(&d, "version"))
                .trim()
                .to_string();
            vec![
                s.app.clone(),
                s.id.clone(),
                s.status.map_or(String::new(), |x| x.to_string()),
                text(&d, "description"),
                os,
                s.email.clone().unwrap_or_default(),
                s.unpushed.map_or("", |u| u.as_str()).to_string(),
            ]
        })
        .collect();
    table(
        &["APP", "ID", "STATUS", "DEVICE", "OS", "EMAIL", "UNPUSHED"],
        &table_rows,
    );
}

pub fn push_json(p: &PushReport) -> Value {
    json!({
        "added": p.added,
        "updated": p.updated,
        "removed": p.removed,
        "unchanged": p.unchanged,
        "invalid": p.invalid.iter().map(|i| json!({"path": i.path, "code": i.code, "error": i.error})).collect::<Vec<_>>(),
    })
}

fn push_human(p: &PushReport) {
    println!(
        "pushed: {} added, {} updated, {} removed, {} unchanged, {} invalid",
        p.added,
        p.updated,
        p.removed,
        p.unchanged,
        p.invalid.len()
    );
    for i in &p.invalid {
        println!("  invalid (code {}): {}: {}", i.code, i.path, i.error);
    }
}

pub fn push(p: &PushReport, as_json: bool) {
    if as_json {
        println!("{}", push_json(p));
    } else {
        push_human(p);
    }
}

pub fn changed(c: &ChangeReport, as_json: bool) {
    if as_json {
        let sessions: Vec<Value> = c
            .sessions
            .iter()
            .map(|s| {
                json!({
                    "app": s.app,
                    "id": s.id,
                    "path": s.path,
                    "status": s.status.map(|x| x.as_str()),
                    "changed": s.changed,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "sessions": sessions, "push": c.push.as_ref().map(push_json) })
        );
        return;
    }
    for s in &c.sessions {
        match (s.status, s.changed) {
            (Some(st), true) => println!("{st}: {}/{}", s.app, s.id),
            (Some(st), false) => println!("already {st}: {}/{}", s.app, s.id),
            (None, true) => println!("deleted: {}/{}", s.app, s.id),
            (None, false) => println!("already deleted: {}/{}", s.app, s.id),
        }
    }
    match &c.push {
        Some(p) => push_human(p),
        None => eprintln!("not live yet: run `mobile-session push` to apply"),
    }
}

pub fn status(s: &DaemonStatus, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "version": s.version,
                "protocol": s.protocol,
                "pid": s.pid,
                "uptime": s.uptime_secs,
                "data_dir": s.data_dir,
                "socket": s.socket,
                "live": s.live,
                "on_disk": s.on_disk,
                "unpushed": s.unpushed,
                "invalid": s.invalid,
                "watcher": s.watcher,
                "rescans": s.rescans,
                "auto_push": s.auto_push,
                "connections": s.connections,
                "watchers": s.watchers,
                "max_connections": s.max_connections,
                "read_errors": s.read_errors,
                "unreadable_folders": s.unreadable_folders,
            })
        );
        return;
    }
    println!(
        "mobile-sessiond {} (protocol {}), pid {}, up {}s",
        s.version, s.protocol, s.pid, s.uptime_secs
    );
    println!("data dir:  {}", s.data_dir);
    println!("socket:    {}", s.socket);
    println!(
        "sessions:  {} live, {} on disk, {} unpushed, {} invalid",
        s.live, s.on_disk, s.unpushed, s.invalid
    );
    println!("watcher:   {} ({} rescans)", s.watcher, s.rescans);
    println!("auto-push: {}", if s.auto_push { "on" } else { "off" });
    println!("clients:   {}", s.connections);
}

pub fn event(e: &Event, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "event": e.kind.as_str(),
                "app": e.app,
                "id": e.id,
                "status": e.status.map(|s| s.as_str()),
                "code": e.code,
                "push": e.push.as_ref().map(push_json),
                "count": e.count,
                "message": e.message,
            })
        );
        return;
    }
    let mut line = e.kind.as_str().to_string();
    if let (Some(a), Some(i)) = (&e.app, &e.id) {
        line.push_str(&format!(" {a}/{i}"));
    }
    if let Some(s) = e.status {
        line.push_str(&format!(" {s}"));
    }
    if let Some(c) = e.code {
        line.push_str(&format!(" code {c}"));
    }
    if let Some(p) = &e.push {
        line.push_str(&format!(
            " {} added, {} updated, {} removed, {} unchanged, {} invalid",
            p.added,
            p.updated,
            p.removed,
            p.unchanged,
            p.invalid.len()
        ));
    }
    if let Some(n) = e.count {
        line.push_str(&format!(" ({n})"));
    }
    if let Some(m) = &e.message {
        line.push_str(&format!(": {m}"));
    }
    println!("{line}");
}
