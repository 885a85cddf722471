//! `sessions`, and `sessions --invalid`.

use mobile_session::SessionRow;
use serde_json::{json, Value};

use super::{ago, colored, rfc3339, table, Cell, Paint, View};

fn device_of(s: &SessionRow) -> Value {
    serde_json::from_str(&s.device).unwrap_or(Value::Null)
}

/// One row of `sessions --json`: exactly `app`, `id`, `status`, `email`,
/// `device`, `path`, `unpushed`, `last_seen` in that order, plus `code` and
/// `error` on an invalid file's row, `group` with `--duplicates`, and
/// `"writing": true` on a file being written
/// (README.md, "JSON output").
pub fn session_json(s: &SessionRow) -> Value {
    let mut v = json!({
        "app": s.app,
        "id": s.id,
        "status": s.status.map(|x| x.as_str()),
        "email": s.email,
        "device": device_of(s),
        "path": s.path,
        "unpushed": s.unpushed.map(|u| u.as_str()),
        "last_seen": s.last_seen_ms.map(rfc3339),
    });
    if let Some(inv) = &s.invalid {
        v["code"] = json!(inv.code);
        v["error"] = json!(inv.error);
    }
    if let Some(g) = s.group {
        v["group"] = json!(g);
    }
    if s.writing {
        v["writing"] = json!(true);
    }
    v
}

/// The UNPUSHED column: the mark, and `writing` while a writer has the
/// file open (the row shows its last good content).
fn mark(s: &SessionRow) -> String {
    match (s.unpushed.map(|u| u.as_str()), s.writing) {
        (Some(u), true) => format!("{u}, writing"),
        (None, true) => "writing".to_string(),
        (u, false) => u.unwrap_or("").to_string(),
    }
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
            let group = s.group.map(|g| Cell::from(g.to_string()));
            group
                .into_iter()
                .chain([
                    Cell::from(s.app.as_str()),
                    Cell::from(s.id.as_str()),
                    colored(status, shown),
                    Cell::from(text(&d, "description")),
                    Cell::from(os),
                    Cell::from(s.email.clone().unwrap_or_default()),
                    Cell::from(ago(s.last_seen_ms)),
                    Cell::from(mark(s)),
                ])
                .collect()
        })
        .collect();
    let header = [
        "GROUP",
        "APP",
        "ID",
        "STATUS",
        "DEVICE",
        "OS",
        "EMAIL",
        "LAST SEEN",
        "UNPUSHED",
    ];
    let grouped = rows.first().is_some_and(|r| r.group.is_some());
    table(view, &header[usize::from(!grouped)..], table_rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session::{Invalidity, Status, Unpushed};
    use unicode_width::UnicodeWidthStr;

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
            writing: false,
            last_seen_ms: None,
            group: None,
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
            [
                "app",
                "id",
                "status",
                "email",
                "device",
                "path",
                "unpushed",
                "last_seen"
            ]
        );
    }

    #[test]
    fn no_legend_and_no_control_characters() {
        let view = View::default();
        let out = sessions(&[row("aaaa", "evil\x1b[2J")], &view, false);
        assert!(!out.contains('\x1b') && !out.starts_with("APP"), "{out:?}");
    }
}
