//! What the daemon answers, as text: human tables (aligned by display
//! width, coloured on a terminal) and the `--json` shapes that README.md's
//! "JSON output" section documents (keep the two in step). Every function
//! returns the text; `main.rs` writes it, so that a closed stdout is
//! handled in one place.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use mobile_session::{
    AppRow, AuthReply, ChangeReport, ChangedSession, DaemonStatus, Event, PushReport, SessionRow,
};
use serde_json::{json, Map, Value};
use unicode_width::UnicodeWidthStr;

/// How to print: the global flags, and whether stdout takes colours.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    pub json: bool,
    pub quiet: bool,
    pub legend: bool,
    pub color: bool,
}

#[derive(Debug, Clone, Copy)]
enum Paint {
    Green,
    Yellow,
    Red,
}

impl View {
    fn paint(&self, text: &str, paint: Paint) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match paint {
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn status_word(&self, word: &str) -> String {
        match word {
            "accepted" => self.paint(word, Paint::Green),
            "pending" => self.paint(word, Paint::Yellow),
            "" => String::new(),
            other => self.paint(other, Paint::Red),
        }
    }
}

/// A cell: its plain text (for width) and what is printed (maybe coloured).
pub struct Cell {
    text: String,
    shown: Option<String>,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell {
            text: printable(&text),
            shown: None,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::from(text.to_string())
    }
}

/// Control characters from a session file must not reach the terminal
/// (an escape sequence in a device name could rewrite the screen).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A session file as stored (`show` of an invalid file), for the terminal:
/// its lines kept (CRLF read as LF) and tabs too, every other control
/// character shown as `?`.
pub fn stored_text(text: &str) -> String {
    let mut out: String = text
        .trim_end()
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    out.push('\n');
    out
}

/// Left-aligned columns, two spaces apart, padded by display width (so
/// that "小米 13 Ultra" takes the 13 columns it occupies on screen).
pub fn table(view: &View, header: &[&str], rows: Vec<Vec<Cell>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.text.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[Cell]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            s.push_str(c.shown.as_deref().unwrap_or(&c.text));
            if i + 1 < cells.len() {
                let pad = w.saturating_sub(c.text.width()) + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    if view.legend {
        let head: Vec<Cell> = header.iter().map(|h| Cell::from(*h)).collect();
        line(&head);
    }
    for r in &rows {
        line(r);
    }
    out
}

fn colored(text: String, shown: String) -> Cell {
    let text = printable(&text);
    Cell {
        shown: Some(shown),
        text,
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

fn device_of(s: &SessionRow) -> Value {
    serde_json::from_str(&s.device).unwrap_or(Value::Null)
}

/// One row of `sessions --json`: exactly `app`, `id`, `status`, `email`,
/// `device`, `path`, `unpushed` in that order, plus `code` and `error` on an
/// invalid file's row (README.md, "JSON output").
pub fn session_json(s: &SessionRow) -> Value {
    let mut v = json!({
        "app": s.app,
        "id": s.id,
        "status": s.status.map(|x| x.as_str()),
        "email": s.email,
        "device": device_of(s),
        "path": s.path,
        "unpushed": s.unpushed.map(|u| u.as_str()),
    });
    if let Some(inv) = &s.invalid {
        v["code"] = json!(inv.code);
        v["error"] = json!(inv.error);
    }
    v
}

/// `invalid_only`: the `--invalid` listing, which shows each file's error.
pub fn sessions(rows: &[SessionRow], view: &View, invalid_only: bool) -> String {
    if view.json {
        return format!(
            "{}\n",
            Value::Array(rows.iter().map(session_json).collect())
        );
    }
    if view.quiet {
        return rows.iter().map(|s| format!("{}\n", s.id)).collect();
    }
    if invalid_only {
        let table_rows = rows
            .iter()
            .map(|s| {
                let (code, error) = s
                    .invalid
                    .as_ref()
                    .map(|i| (i.code.to_string(), i.error.clone()))
                    .unwrap_or_default();
                vec![
                    Cell::from(s.app.as_str()),
                    Cell::from(s.id.as_str()),
                    colored(code.clone(), view.paint(&code, Paint::Red)),
                    Cell::from(error),
                ]
            })
            .collect();
        return table(view, &["APP", "ID", "CODE", "ERROR"], table_rows);
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let table_rows = rows
        .iter()
        .map(|s| {
            let d = device_of(s);
            let os = format!("{} {}", text(&d, "os"), text(&d, "version"))
                .trim()
                .to_string();
            // An invalid file shows its 4D error code in place of a status.
            let status = match (&s.invalid, s.status) {
                (Some(inv), _) => format!("invalid ({})", inv.code),
                (None, Some(st)) => st.to_string(),
                (None, None) => String::new(),
            };
            let shown = if s.invalid.is_some() {
                view.paint(&status, Paint::Red)
            } else {
                view.status_word(&status)
            };
            vec![
                Cell::from(s.app.as_str()),
                Cell::from(s.id.as_str()),
                colored(status, shown),
                Cell::from(text(&d, "description")),
                Cell::from(os),
                Cell::from(s.email.clone().unwrap_or_default()),
                Cell::from(s.unpushed.map_or("", |u| u.as_str())),
            ]
        })
        .collect();
    table(
        view,
        &["APP", "ID", "STATUS", "DEVICE", "OS", "EMAIL", "UNPUSHED"],
        table_rows,
    )
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

fn push_human(p: &PushReport, view: &View) -> String {
    let mut s = format!(
        "pushed: {} added, {} updated, {} removed, {} unchanged, {} invalid\n",
        p.added,
        p.updated,
        p.removed,
        p.unchanged,
        p.invalid.len()
    );
    for i in &p.invalid {
        let code = view.paint(&format!("code {}", i.code), Paint::Red);
        let _ = writeln!(
            s,
            "  invalid ({code}): {}: {}",
            printable(&i.path),
            printable(&i.error)
        );
    }
    s
}

pub fn push(p: &PushReport, view: &View) -> String {
    if view.json {
        format!("{}\n", push_json(p))
    } else if view.quiet {
        String::new()
    } else {
        push_human(p, view)
    }
}

pub fn changed_json(s: &ChangedSession) -> Value {
    json!({
        "app": s.app,
        "id": s.id,
        "path": s.path,
        "status": s.status.map(|x| x.as_str()),
        "changed": s.changed,
    })
}

pub fn changed(c: &ChangeReport, view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = c.sessions.iter().map(changed_json).collect();
        return format!(
            "{}\n",
            json!({ "sessions": sessions, "push": c.push.as_ref().map(push_json) })
        );
    }
    if view.quiet {
        return c.sessions.iter().map(|s| format!("{}\n", s.id)).collect();
    }
    let mut out = String::new();
    for s in &c.sessions {
        let _ = match (s.status, s.changed) {
            (Some(st), true) => {
                writeln!(out, "{}: {}/{}", view.status_word(st.as_str()), s.app, s.id)
            }
            (Some(st), false) => writeln!(out, "already {st}: {}/{}", s.app, s.id),
            (None, true) => writeln!(out, "deleted: {}/{}", s.app, s.id),
            (None, false) => writeln!(out, "already deleted: {}/{}", s.app, s.id),
        };
    }
    if let Some(p) = &c.push {
        out.push_str(&push_human(p, view));
    }
    out
}

/// Targets of `delete --dry-run`: `(app, id, path)`.
pub fn dry_run(targets: &[(String, String, String)], view: &View) -> String {
    if view.json {
        let sessions: Vec<Value> = targets
            .iter()
            .map(|(app, id, path)| json!({"app": app, "id": id, "path": path}))
            .collect();
        return format!("{}\n", json!({"dry_run": true, "sessions": sessions}));
    }
    targets
        .iter()
        .map(|(app, id, path)| match view.quiet {
            true => format!("{id}\n"),
            false => format!("would delete: {app}/{id} ({})\n", printable(path)),
        })
        .collect()
}

pub fn verify(reply: &mobile_session::VerifyReply, view: &View) -> String {
    if view.json {
        return format!(
            "{}\n",
            json!({ "status": reply.status.as_str(), "app": reply.app, "id": reply.id })
        );
    }
    if view.quiet {
        return id_line(reply.id.as_deref());
    }
    format!("{}\n", view.status_word(reply.status.as_str()))
}

/// `-q` output of a command that answers a session id: the id, or nothing.
fn id_line(id: Option<&str>) -> String {
    id.map(|id| format!("{id}\n")).unwrap_or_default()
}

pub fn auth_json(reply: &AuthReply) -> Value {
    let user_info: Option<Value> = reply
        .user_info
        .as_deref()
        .and_then(|u| serde_json::from_str(u).ok());
    json!({
        "success": reply.success,
        "id": reply.id,
        "status": reply.status.map(|s| s.as_str()),
        "token": reply.token,
        "statusText": reply.status_text,
        "userInfo": user_info,
    })
}

pub fn authenticated(reply: &AuthReply, view: &View) -> String {
    if view.json {
        return format!("{}\n", auth_json(reply));
    }
    if view.quiet {
        return id_line(reply.id.as_deref());
    }
    let mut out = String::new();
    if !reply.success {
        let _ = writeln!(out, "{}", view.paint("refused", Paint::Red));
    }
    if let Some(id) = &reply.id {
        let _ = writeln!(out, "id:     {id}");
    }
    if let Some(s) = reply.status {
        let _ = writeln!(out, "status: {}", view.status_word(s.as_str()));
    }
    if let Some(t) = &reply.token {
        let _ = writeln!(out, "token:  {t}");
    }
    if !reply.status_text.is_empty() {
        let _ = writeln!(out, "{}", printable(&reply.status_text));
    }
    out
}

/// The answer of `user-info` and `logout`.
pub fn session_done(what: &str, s: &ChangedSession, view: &View) -> String {
    if view.json {
        format!("{}\n", changed_json(s))
    } else if view.quiet {
        format!("{}\n", s.id)
    } else {
        format!("{what}: {}/{}\n", s.app, s.id)
    }
}

/// `socket` is the path this client used: the one in use, whatever the
/// daemon believes it bound.
pub fn status(s: &DaemonStatus, socket: &str, view: &View) -> String {
    if view.json {
        let mut v = json!({
            "version": s.version,
            "protocol": s.protocol,
            "pid": s.pid,
            "uptime": s.uptime_secs,
            "data_dir": s.data_dir,
            "socket": socket,
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
        });
        if s.socket != socket {
            v["daemon_socket"] = json!(s.socket);
        }
        return format!("{v}\n");
    }
    if view.quiet {
        return String::new();
    }
    let uptime = humantime::format_duration(Duration::from_secs(s.uptime_secs));
    let mut out = format!(
        "mobile-sessiond {} (protocol {}), pid {}, up {uptime}\n",
        s.version, s.protocol, s.pid
    );
    let _ = writeln!(out, "data dir:    {}", printable(&s.data_dir));
    let _ = write!(out, "socket:      {}", printable(socket));
    if s.socket != socket {
        let _ = write!(out, " (the daemon reports {})", printable(&s.socket));
    }
    out.push('\n');
    let invalid = format!("{} invalid", s.invalid);
    let invalid = if s.invalid > 0 {
        view.paint(&invalid, Paint::Red)
    } else {
        invalid
    };
    let _ = writeln!(
        out,
        "sessions:    {} live, {} on disk, {} unpushed, {invalid}",
        s.live, s.on_disk, s.unpushed
    );
    let _ = writeln!(
        out,
        "watcher:     {} ({} rescans)",
        printable(&s.watcher),
        s.rescans
    );
    let _ = writeln!(
        out,
        "auto-push:   {}",
        if s.auto_push { "on" } else { "off" }
    );
    let max = match s.max_connections {
        0 => String::new(),
        m => format!(", at most {m}"),
    };
    let _ = writeln!(
        out,
        "connections: {} ({} watching{max})",
        s.connections, s.watchers
    );
    if s.read_errors > 0 {
        let _ = writeln!(
            out,
            "read errors: {}",
            view.paint(&s.read_errors.to_string(), Paint::Yellow)
        );
    }
    if !s.unreadable_folders.is_empty() {
        let list = printable(&s.unreadable_folders.join(", "));
        let _ = writeln!(out, "unreadable:  {}", view.paint(&list, Paint::Red));
    }
    out
}

/// An event's time as RFC 3339 (UTC, milliseconds).
fn event_time(e: &Event) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(e.time_ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// One line per event; its JSON has only the fields the event carries.
pub fn event(e: &Event, view: &View) -> String {
    if view.json {
        let mut m = Map::new();
        m.insert("time".into(), json!(event_time(e)));
        m.insert("event".into(), json!(e.kind.as_str()));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("app", e.app.as_ref().map(|a| json!(a)));
        put("id", e.id.as_ref().map(|i| json!(i)));
        put("status", e.status.map(|s| json!(s.as_str())));
        put("code", e.code.map(|c| json!(c)));
        put("push", e.push.as_ref().map(push_json));
        put("count", e.count.map(|c| json!(c)));
        put("message", e.message.as_ref().map(|m| json!(m)));
        put(
            "notify",
            e.notify.as_ref().map(crate::notify_cmd::counts_json),
        );
        return format!("{}\n", Value::Object(m));
    }
    if view.quiet {
        return e
            .id
            .as_ref()
            .map(|id| format!("{id}\n"))
            .unwrap_or_default();
    }
    let mut line = format!("{} {}", event_time(e), e.kind.as_str());
    match (&e.app, &e.id) {
        (Some(a), Some(i)) => {
            let _ = write!(line, " {a}/{i}");
        }
        (Some(a), None) => {
            let _ = write!(line, " {a}");
        }
        _ => {}
    }
    if let Some(s) = e.status {
        let _ = write!(line, " {}", view.status_word(s.as_str()));
    }
    if let Some(c) = e.code {
        let _ = write!(line, " {}", view.paint(&format!("code {c}"), Paint::Red));
    }
    if let Some(p) = &e.push {
        let _ = write!(
            line,
            " {} added, {} updated, {} removed, {} unchanged, {} invalid",
            p.added,
            p.updated,
            p.removed,
            p.unchanged,
            p.invalid.len()
        );
    }
    if let Some(n) = e.count {
        let _ = write!(line, " ({n})");
    }
    if let Some(n) = &e.notify {
        let _ = write!(
            line,
            " {} sent, {} failed, {} skipped, {} tokens removed",
            n.sent, n.failed, n.skipped, n.tokens_removed
        );
    }
    if let Some(m) = &e.message {
        let _ = write!(line, ": {m}");
    }
    format!("{}\n", printable(&line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session::{EventKind, Invalidity, Status, Unpushed};

    fn row(id: &str, device: &str) -> SessionRow {
        SessionRow {
            app: "com.x".into(),
            id: id.into(),
            status: Some(Status::Accepted),
            email: Some(String::new()),
            device: json!({"description": device, "os": "Android", "version": "14"}).to_string(),
            path: format!("/d/MobileApps/com.x/{id}"),
            unpushed: None,
            invalid: None,
        }
    }

    #[test]
    fn columns_align_by_display_width() {
        let view = View {
            legend: true,
            ..View::default()
        };
        let out = sessions(
            &[row("aaaa", "小米 13 Ultra"), row("bbbb", "Pixel 7")],
            &view,
            false,
        );
        // The OS column starts at the same screen column on every line.
        let starts: Vec<usize> = out
            .lines()
            .map(|l| {
                let at = l.find("Android").or_else(|| l.find("OS")).unwrap();
                l[..at].width()
            })
            .collect();
        assert_eq!(starts.len(), 3, "{out}");
        assert!(starts.iter().all(|&s| s == starts[0]), "{out}");
    }

    #[test]
    fn invalid_rows_show_their_code() {
        let mut r = row("cccc", "x");
        r.status = None;
        r.unpushed = Some(Unpushed::Invalid);
        r.invalid = Some(Invalidity {
            code: 3,
            error: "no status".into(),
        });
        let view = View::default();
        assert!(sessions(&[r.clone()], &view, false).contains("invalid (3)"));
        assert!(sessions(&[r.clone()], &view, true).contains("no status"));
        let v = session_json(&r);
        assert_eq!(v["code"], 3);
        assert_eq!(v["status"], Value::Null);
        let valid = session_json(&row("dddd", "y"));
        let keys: Vec<&String> = valid.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["app", "id", "status", "email", "device", "path", "unpushed"]
        );
    }

    #[test]
    fn no_legend_and_no_control_characters() {
        let view = View::default();
        let out = sessions(&[row("aaaa", "evil\x1b[2J")], &view, false);
        assert!(!out.contains('\x1b') && !out.starts_with("APP"), "{out:?}");
    }

    #[test]
    fn a_stored_file_reaches_the_terminal_without_control_characters() {
        let torn = "{\"a\":\r\n\t\"\x1b[2J\u{9b}31m\x07\r\n";
        assert_eq!(stored_text(torn), "{\"a\":\n\t\"?[2J?31m?\n");
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = View::default();
        let color = View {
            color: true,
            ..plain
        };
        assert_eq!(plain.status_word("pending"), "pending");
        assert!(color.status_word("pending").contains("\x1b[33m"));
    }

    #[test]
    fn events_carry_a_time_and_only_their_fields() {
        let mut e = Event::new(EventKind::Deleted);
        e.time_ms = 1_700_000_000_123;
        e.app = Some("com.x".into());
        e.id = Some("abcd".into());
        let v: Value = serde_json::from_str(&event(
            &e,
            &View {
                json: true,
                ..View::default()
            },
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"time": "2023-11-14T22:13:20.123Z", "event": "deleted", "app": "com.x", "id": "abcd"})
        );
        assert!(
            event(&e, &View::default()).starts_with("2023-11-14T22:13:20.123Z deleted com.x/abcd")
        );
    }

    #[test]
    fn status_uses_one_word_for_connections() {
        let s = DaemonStatus {
            version: "1".into(),
            protocol: 2,
            pid: 1,
            uptime_secs: 3725,
            data_dir: "/d".into(),
            socket: "/s".into(),
            live: 1,
            on_disk: 1,
            unpushed: 0,
            invalid: 0,
            watcher: "inotify".into(),
            rescans: 0,
            auto_push: false,
            connections: 3,
            watchers: 1,
            max_connections: 64,
            read_errors: 0,
            unreadable_folders: vec![],
        };
        let human = status(&s, "/s", &View::default());
        assert!(human.contains("up 1h 2m 5s"), "{human}");
        assert!(
            human.contains("connections: 3 (1 watching, at most 64)"),
            "{human}"
        );
        let v: Value = serde_json::from_str(&status(
            &s,
            "/s",
            &View {
                json: true,
                ..View::default()
            },
        ))
        .unwrap();
        assert_eq!(v["connections"], 3);
        assert!(v.get("daemon_socket").is_none());
    }
}
