//! What opens over the body: help, the push report, the delete confirmation.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{popup, Theme};
use crate::ui::state::{Mode, State};

const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move in the focused list"),
    ("PgUp PgDn Home End", "page, first, last"),
    ("Tab  ← →", "switch between apps and sessions"),
    ("Enter", "apps: go to sessions · sessions: full-screen JSON"),
    ("J K", "scroll the JSON pane"),
    (
        "/",
        "filter by e-mail, device or id (Enter keeps, Esc clears)",
    ),
    ("< >  I", "sort by the previous / next column; invert"),
    ("Space", "mark / unmark a session (Esc clears marks)"),
    ("s", "toggle the status of the marked, or the selected one"),
    ("a", "accept the marked sessions (or the selected one)"),
    ("d", "delete the marked or selected sessions (y confirms)"),
    (
        "o",
        "reveal the file (path; file manager when there is one)",
    ),
    (
        "p",
        "push: make the files live (MOBILE APP REFRESH SESSIONS)",
    ),
    ("r", "refresh: rescan the folders"),
    ("?", "this help"),
    ("q  Ctrl-C · Ctrl-L", "quit · repaint the screen"),
];

pub fn draw_help(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<20}"), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    if state.is_admin() {
        lines.push(Line::raw(
            " Changes are written to the files at once; p makes them live.",
        ));
    } else {
        lines.push(Line::styled(
            " Read-only: this connection is a reader; s, Space, a, d, p are off.",
            theme.warn(),
        ));
    }
    lines.push(Line::raw(
        " Marks in the Unpushed column: new, changed, deleted, invalid N.",
    ));
    let rect = popup(frame, area, 82, lines.len() as u16 + 2);
    let block = Block::bordered()
        .title(" Keys · any key closes ")
        .border_style(theme.focused_border());
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

pub fn draw_push_report(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Mode::PushReport(report) = &state.mode else {
        return;
    };
    let mut lines = vec![Line::raw(format!(" {report}"))];
    if report.invalid.is_empty() {
        lines.push(Line::styled(" no invalid file", theme.good()));
    } else {
        lines.push(Line::styled(
            format!(" {} invalid files (not live):", report.invalid.len()),
            theme.error(),
        ));
        for f in &report.invalid {
            lines.push(Line::from(vec![
                Span::styled(format!(" code {} ", f.code), theme.error()),
                Span::raw(f.path.clone()),
            ]));
            lines.push(Line::styled(format!("        {}", f.error), theme.dim()));
        }
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = popup(frame, area, area.width.saturating_sub(4).max(20), height);
    let block = Block::bordered()
        .title(" Pushed · Esc closes ")
        .border_style(theme.focused_border());
    let text = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((state.report_scroll, 0));
    frame.render_widget(text, rect);
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Mode::ConfirmDelete(keys) = &state.mode else {
        return;
    };
    let what = match keys.len() {
        1 => "1 session".to_string(),
        n => format!("{n} sessions"),
    };
    let mut lines = vec![Line::styled(format!(" Delete {what}?"), theme.error())];
    for k in keys.iter().take(5) {
        lines.push(Line::raw(format!("   {}", k.short())));
    }
    if keys.len() > 5 {
        lines.push(Line::raw(format!("   … and {} more", keys.len() - 5)));
    }
    lines.push(Line::raw(" The files are removed; p makes it live."));
    lines.push(Line::from(vec![
        Span::styled(" y", theme.key()),
        Span::raw(" delete · any other key cancels"),
    ]));
    let rect = popup(frame, area, 64, lines.len() as u16 + 2);
    let block = Block::bordered().border_style(theme.error());
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
