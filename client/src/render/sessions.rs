//! `sessions`, and `sessions --invalid`.

use mobile_session::SessionRow;
use serde_json::Value;

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
    let mut out = Vec::new();
    write_session_json(&mut out, s);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

/// [`session_json`]'s text, written straight into `out`: a listing of a
/// million rows builds no JSON value per row but the device's.
fn write_session_json(out: &mut Vec<u8>, s: &SessionRow) {
    // The names are plain: written as they are. Writing into a Vec cannot fail.
    let name = |out: &mut Vec<u8>, name: &str| {
        out.extend_from_slice(if name == "app" { b"{\"" } else { b",\"" });
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    };
    name(out, "app");
    let _ = serde_json::to_writer(&mut *out, &s.app);
    name(out, "id");
    let _ = serde_json::to_writer(&mut *out, &s.id);
    name(out, "status");
    let _ = serde_json::to_writer(&mut *out, &s.status.map(|x| x.as_str()));
    name(out, "email");
    let _ = serde_json::to_writer(&mut *out, &s.email);
    name(out, "device");
    let _ = serde_json::to_writer(&mut *out, &device_of(s));
    name(out, "path");
    let _ = serde_json::to_writer(&mut *out, &s.path);
    name(out, "unpushed");
    let _ = serde_json::to_writer(&mut *out, &s.unpushed.map(|u| u.as_str()));
    name(out, "last_seen");
    let _ = serde_json::to_writer(&mut *out, &s.last_seen_ms.map(rfc3339));
    if let Some(inv) = &s.invalid {
        name(out, "code");
        let _ = serde_json::to_writer(&mut *out, &inv.code);
        name(out, "error");
        let _ = serde_json::to_writer(&mut *out, &inv.error);
    }
    if let Some(g) = s.group {
        name(out, "group");
        let _ = serde_json::to_writer(&mut *out, &g);
    }
    if s.writing {
        name(out, "writing");
        out.extend_from_slice(b"true");
    }
    out.push(b'}');
}

/// `sessions --json` and `--quiet` as the pages come: the text of one page
/// of rows, `shown` rows having been printed before it. Together with
/// [`sessions_end`], the same text [`sessions`] prints for all at once.
pub fn sessions_page(rows: &[SessionRow], view: &View, shown: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 400);
    for (i, s) in rows.iter().enumerate() {
        if view.json {
            out.push(if shown + i == 0 { b'[' } else { b',' });
            write_session_json(&mut out, s);
        } else {
            out.extend_from_slice(s.id.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// What ends a listing printed by pages, after `shown` rows.
pub fn sessions_end(view: &View, shown: usize) -> &'static str {
    match (view.json, shown) {
        (false, _) => "",
        (true, 0) => "[]\n",
        (true, _) => "]\n",
    }
}

/// Whether [`sessions_page`] prints this listing (no table to align).
pub fn sessions_by_page(view: &View) -> bool {
    view.json || view.quiet
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
    use serde_json::json;
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
    fn pages_print_what_the_whole_listing_prints() {
        let mut invalid = row("cccc", "\"quoted\" é");
        invalid.invalid = Some(Invalidity {
            code: 2,
            error: "not JSON".into(),
        });
        let mut seen = row("bbbb", "y");
        seen.last_seen_ms = Some(1_700_000_000_123);
        seen.group = Some(2);
        seen.writing = true;
        seen.unpushed = Some(Unpushed::Changed);
        let mut odd = row("dddd", "z");
        odd.device = "not JSON".into();
        odd.email = None;
        let rows = vec![row("aaaa", "x"), invalid, seen, odd];
        for view in [
            View {
                json: true,
                ..View::default()
            },
            View {
                quiet: true,
                ..View::default()
            },
        ] {
            for cut in 0..=rows.len() {
                let (a, b) = rows.split_at(cut);
                let mut paged = sessions_page(a, &view, 0);
                paged.extend(sessions_page(b, &view, a.len()));
                paged.extend_from_slice(sessions_end(&view, rows.len()).as_bytes());
                let whole = sessions(&rows, &view, false);
                assert_eq!(String::from_utf8(paged).unwrap(), whole);
            }
            let none = [sessions_page(&[], &view, 0), sessions_end(&view, 0).into()].concat();
            assert_eq!(
                String::from_utf8(none).unwrap(),
                sessions(&[], &view, false)
            );
        }
    }

    #[test]
    fn no_legend_and_no_control_characters() {
        let view = View::default();
        let out = sessions(&[row("aaaa", "evil\x1b[2J")], &view, false);
        assert!(!out.contains('\x1b') && !out.starts_with("APP"), "{out:?}");
    }
}
