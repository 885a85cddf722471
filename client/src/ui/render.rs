//! Draws the window from the [`State`]. Only the rows that fit are turned
//! into widgets, so 100 000 sessions cost what a screenful costs.

use mobile_session_proto::{Status, Unpushed};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row as TableRow, Table, TableState, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::model::{Row, REDACTED};
use super::state::{describe_event, Focus, Link, Mode, State};
use super::view::Column;

/// Colours, or none at all when `NO_COLOR` is set (then emphasis is bold,
/// reverse video and dim only).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    fn good(self) -> Style {
        self.fg(Color::Green)
    }

    fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    fn title(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    fn focused_border(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

pub fn draw(frame: &mut Frame, state: &mut State, theme: Theme) {
    let [title, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_title(frame, title, state, theme);
    if state.mode == Mode::Detail {
        draw_detail(frame, body, state, theme, true);
    } else {
        draw_body(frame, body, state, theme);
    }
    draw_status(frame, status, state, theme);
    draw_footer(frame, footer, state, theme);
    match &state.mode {
        Mode::Help => draw_help(frame, body, state, theme),
        Mode::PushReport(_) => draw_push_report(frame, body, state, theme),
        Mode::ConfirmDelete(_) => draw_confirm(frame, body, state, theme),
        _ => {}
    }
}

fn draw_title(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    // The role first: it must survive a narrow terminal.
    let mut left = vec![Span::raw(" mobile-session ui")];
    match state.role {
        Some(mobile_session_proto::Role::Admin) => left.push(Span::raw(" · admin")),
        Some(mobile_session_proto::Role::Reader) => {
            left.push(Span::raw(" · "));
            left.push(Span::styled(
                "READ-ONLY (reader)",
                theme.warn().add_modifier(Modifier::BOLD),
            ));
        }
        None => {}
    }
    if !state.daemon_version.is_empty() {
        left.push(Span::raw(format!(" · daemon {}", state.daemon_version)));
    }
    let sessions: u64 = state.apps.iter().map(|a| a.sessions).sum();
    let pending: u64 = state.apps.iter().map(|a| a.pending).sum();
    let right = format!(
        "{} apps · {sessions} sessions · {pending} pending ",
        state.apps.len()
    );
    frame.render_widget(Block::new().style(theme.title()), area);
    // The counts keep their place; the left part is cut when short of room.
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right.width() as u16)])
            .areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(Paragraph::new(right).right_aligned(), right_area);
}

fn draw_body(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme) {
    // Apps beside the sessions when there is room for both, above otherwise.
    let (apps_area, right) = if area.width >= 140 {
        let [a, r] = Layout::horizontal([Constraint::Length(56), Constraint::Min(40)]).areas(area);
        (a, r)
    } else {
        let wanted = state.apps.len() as u16 + 4; // borders, header, "All apps"
        let height = wanted.min(area.height / 3).max(4);
        let [a, r] = Layout::vertical([Constraint::Length(height), Constraint::Min(4)]).areas(area);
        (a, r)
    };
    // The table takes what its rows need, down to two thirds; the JSON
    // pane the rest.
    let needed = state
        .shown
        .order
        .len()
        .saturating_add(3)
        .min(u16::MAX as usize) as u16;
    let table_height = needed.clamp(5, (right.height * 2 / 3).max(5));
    let [table, detail] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(3)]).areas(right);
    draw_apps(frame, apps_area, state, theme);
    draw_sessions(frame, table, state, theme);
    draw_detail(frame, detail, state, theme, false);
}

fn pane(title: Line<'static>, focused: bool, theme: Theme) -> Block<'static> {
    let block = Block::bordered().title(title);
    if focused {
        block.border_style(theme.focused_border())
    } else {
        block
    }
}

fn highlight(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
}

fn draw_apps(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let focused = state.focus == Focus::Apps && state.mode == Mode::Normal;
    let total: u64 = state.apps.iter().map(|a| a.sessions).sum();
    let pending: u64 = state.apps.iter().map(|a| a.pending).sum();
    let mut rows = vec![TableRow::new(vec![
        Cell::from("All apps"),
        Cell::from(""),
        Cell::from(total.to_string()),
        Cell::from(pending.to_string()),
    ])];
    let mut name_width = "All apps".len();
    for a in &state.apps {
        let name = a.name.clone().unwrap_or_else(|| a.app_id.clone());
        name_width = name_width.max(name.width());
        let folder = if a.unreadable {
            Cell::from(Line::from(vec![
                Span::raw(a.folder.clone()),
                Span::styled(" (unreadable)", theme.error()),
            ]))
        } else {
            Cell::from(a.folder.clone())
        };
        let pending = if a.pending > 0 {
            Cell::from(Span::styled(a.pending.to_string(), theme.warn()))
        } else {
            Cell::from("0")
        };
        rows.push(TableRow::new(vec![
            Cell::from(name),
            folder,
            Cell::from(a.sessions.to_string()),
            pending,
        ]));
    }
    let widths = [
        Constraint::Length(name_width.min(20) as u16),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(7),
    ];
    let header = TableRow::new(["App", "Folder", "Sessions", "Pending"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths)
        .header(header)
        .block(pane(Line::from(" Apps "), focused, theme))
        .row_highlight_style(highlight(focused));
    let mut table_state = TableState::new().with_selected(Some(state.app_cursor));
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// A column of the sessions table as drawn.
struct Shown {
    column: Option<Column>,
    title: &'static str,
    width: Constraint,
}

fn draw_sessions(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme) {
    let focused = state.focus == Focus::Sessions && state.mode == Mode::Normal;
    // Borders and header take three lines; the rest is the window.
    let height = area.height.saturating_sub(3) as usize;
    state.scroll_into_view(height);
    let state = &*state;
    let all_apps = state.query.app.is_none();
    let app_width = state
        .apps
        .iter()
        .map(|a| a.name.as_deref().unwrap_or(a.app_id.as_str()).width())
        .max()
        .unwrap_or(3)
        .clamp(3, 16);

    let mut columns = vec![Shown {
        column: None,
        title: "",
        width: Constraint::Length(1),
    }];
    if all_apps {
        columns.push(Shown {
            column: Some(Column::App),
            title: "App",
            width: Constraint::Length(app_width as u16),
        });
    }
    let col = |c: Column, width| Shown {
        column: Some(c),
        title: c.title(),
        width,
    };
    columns.push(col(Column::Device, Constraint::Fill(3)));
    columns.push(col(Column::Status, Constraint::Length(8)));
    columns.push(col(Column::Os, Constraint::Fill(2)));
    columns.push(col(Column::Email, Constraint::Fill(3)));
    if area.width >= 110 {
        columns.push(col(Column::Id, Constraint::Length(10)));
    }
    columns.push(col(Column::Unpushed, Constraint::Length(10)));

    let sort = state.query.sort;
    let arrow = state.query.direction.arrow();
    let header = TableRow::new(columns.iter().map(|c| {
        if c.column == Some(sort) {
            Cell::from(format!("{} {arrow}", c.title))
        } else {
            Cell::from(c.title)
        }
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));

    let start = state.offset.min(state.shown.order.len());
    let end = (start + height).min(state.shown.order.len());
    let rows: Vec<TableRow> = state.shown.order[start..end]
        .iter()
        .filter_map(|&i| state.shown.rows.get(i as usize))
        .map(|r| session_row(r, &columns, state, theme))
        .collect();

    let scope = match state.selected_app() {
        Some(a) => a.folder.clone(),
        None => "All apps".to_string(),
    };
    let mut title = vec![Span::raw(format!(
        " Sessions · {scope} · {} of {}",
        state.shown.order.len(),
        state.shown.rows.len()
    ))];
    if !columns.iter().any(|c| c.column == Some(sort)) {
        title.push(Span::raw(format!(" · sorted by {} {arrow}", sort.title())));
    }
    if !state.query.filter.is_empty() {
        title.push(Span::raw(" · filter: "));
        title.push(Span::styled(state.filter_input.clone(), theme.key()));
    }
    if !state.marks.is_empty() {
        title.push(Span::raw(format!(" · {} marked", state.marks.len())));
    }
    title.push(Span::raw(" "));
    let block = pane(Line::from(title), focused, theme);

    if state.shown.order.is_empty() {
        let text = if state.rows_generation == 0 {
            "loading…".to_string()
        } else if !state.query.filter.is_empty() {
            format!(
                "no session matches “{}” (Esc clears the filter)",
                state.filter_input
            )
        } else {
            "no sessions".to_string()
        };
        let text = Paragraph::new(Line::styled(text, theme.dim())).block(block);
        frame.render_widget(text, area);
        return;
    }
    let widths: Vec<Constraint> = columns.iter().map(|c| c.width).collect();
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(highlight(focused));
    let mut table_state = TableState::new().with_selected(Some(state.cursor.saturating_sub(start)));
    frame.render_stateful_widget(table, area, &mut table_state);
}

fn session_row<'a>(r: &'a Row, columns: &[Shown], state: &State, theme: Theme) -> TableRow<'a> {
    let cells = columns.iter().map(|c| match c.column {
        None if state.marks.contains(&r.key) => Cell::from(Span::styled("●", theme.key())),
        None => Cell::from(" "),
        Some(Column::App) => Cell::from(r.app_name.as_str()),
        Some(Column::Device) => Cell::from(r.device.as_str()),
        Some(Column::Status) => match r.status {
            Some(Status::Accepted) => Cell::from(Span::styled("accepted", theme.good())),
            Some(Status::Pending) => Cell::from(Span::styled("pending", theme.warn())),
            None => Cell::from(Span::styled("—", theme.dim())),
        },
        Some(Column::Os) => Cell::from(r.os.as_str()),
        Some(Column::Email) => Cell::from(r.email.as_str()),
        Some(Column::Id) => Cell::from(r.key.id.chars().take(10).collect::<String>()),
        Some(Column::Unpushed) => {
            let style = match (r.invalid.is_some(), r.unpushed) {
                (true, _) | (_, Some(Unpushed::Invalid)) => theme.error(),
                (_, Some(Unpushed::Deleted)) => theme.fg(Color::Magenta),
                (_, Some(_)) => theme.warn(),
                _ => Style::new(),
            };
            Cell::from(Span::styled(r.mark(), style))
        }
    });
    let row = TableRow::new(cells.collect::<Vec<_>>());
    if r.is_deleted() {
        row.style(Style::new().add_modifier(Modifier::CROSSED_OUT))
    } else {
        row
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme, zoomed: bool) {
    let Some(row) = state.current() else {
        let block = Block::bordered().title(" Session ");
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let hint = if zoomed {
        "↑↓ scroll · Esc back"
    } else {
        "Enter: full screen · J/K scroll"
    };
    let title = format!(" Session {} · {hint} ", row.key.short());
    let mut lines: Vec<Line> = Vec::new();
    if let Some(inv) = &row.invalid {
        lines.push(Line::styled(
            format!("invalid (code {}): {}", inv.code, inv.error),
            theme.error(),
        ));
    }
    if row.is_deleted() {
        lines.push(Line::styled(
            "the file was deleted; the session stays live until a push",
            theme.fg(Color::Magenta),
        ));
    }
    lines.push(Line::styled(row.path.clone(), theme.dim()));
    match &state.detail {
        Some(d) if d.key == row.key && d.error => {
            lines.push(Line::styled(d.text.clone(), theme.error()))
        }
        Some(d) if d.key == row.key => {
            for l in d.text.lines() {
                if l.contains(REDACTED) {
                    lines.push(Line::styled(l.to_string(), theme.dim()));
                } else {
                    lines.push(Line::raw(l.to_string()));
                }
            }
        }
        _ => lines.push(Line::styled("loading…", theme.dim())),
    }
    let block = pane(Line::from(title), zoomed, theme);
    let paragraph = Paragraph::new(Text::from(lines))
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((state.detail_scroll, 0));
    frame.render_widget(paragraph, area);
}

fn draw_status(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    // An event yields its place to what matters more.
    let quiet = matches!(state.link, Link::Connected)
        && !state.message.as_ref().is_some_and(|m| m.error)
        && state.mode != Mode::Filter;
    let event = state
        .last_event
        .as_ref()
        .filter(|_| quiet)
        .map(|(e, count)| {
            let more = if *count > 1 {
                format!(" (+{})", count - 1)
            } else {
                String::new()
            };
            format!("{} {}{more} ", clock(e.time_ms), describe_event(e))
        });
    let event_width = event.as_deref().map_or(0, UnicodeWidthStr::width) as u16;
    let [left, right] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(event_width.min(area.width / 2)),
    ])
    .areas(area);
    let line = if state.mode == Mode::Filter {
        Line::from(vec![
            Span::styled(" filter (e-mail, device, id): ", theme.key()),
            Span::raw(state.filter_input.clone()),
            Span::styled("▏", theme.key()),
            Span::styled("  Enter keep · Esc clear", theme.dim()),
        ])
    } else {
        match (&state.link, state.busy, &state.message) {
            (Link::Gone(reason), _, _) => Line::styled(
                format!(" daemon gone, reconnecting… ({reason})"),
                theme.error(),
            ),
            (Link::Connecting, _, _) => Line::styled(" connecting…", theme.dim()),
            (Link::Connected, Some(busy), _) => Line::styled(format!(" {busy}"), theme.dim()),
            (Link::Connected, None, Some(m)) if m.error => {
                Line::styled(format!(" {}", m.text), theme.error())
            }
            (Link::Connected, None, Some(m)) => Line::raw(format!(" {}", m.text)),
            (Link::Connected, None, None) => Line::raw(""),
        }
    };
    frame.render_widget(Paragraph::new(line), left);
    if let Some(e) = event {
        frame.render_widget(
            Paragraph::new(Line::styled(e, theme.dim())).right_aligned(),
            right,
        );
    }
}

/// `HH:MM:SS` UTC of a time in milliseconds since the epoch.
fn clock(time_ms: u64) -> String {
    let s = (time_ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// The footer's key hints, in order of importance; those that do not fit
/// are left out (`?` lists them all).
fn hints(state: &State) -> Vec<(&'static str, &'static str)> {
    match &state.mode {
        Mode::Filter => vec![("Enter", "keep filter"), ("Esc", "clear"), ("^U", "erase")],
        Mode::ConfirmDelete(_) => vec![("y", "delete"), ("any key", "cancel")],
        Mode::Help | Mode::PushReport(_) => vec![("Esc", "close")],
        Mode::Detail => vec![("↑↓ PgUp PgDn", "scroll"), ("Esc", "back")],
        Mode::Normal if state.is_admin() => vec![
            ("?", "help"),
            ("q", "quit"),
            ("p", "push"),
            ("s", "status"),
            ("␣", "mark"),
            ("a", "accept"),
            ("d", "delete"),
            ("/", "filter"),
            ("Tab", "apps"),
            ("o", "reveal"),
            ("r", "refresh"),
            ("<>", "sort"),
            ("I", "invert"),
            ("↑↓", "move"),
        ],
        Mode::Normal => vec![
            ("?", "help"),
            ("q", "quit"),
            ("/", "filter"),
            ("Tab", "apps"),
            ("o", "reveal"),
            ("r", "reload"),
            ("<>", "sort"),
            ("I", "invert"),
            ("↑↓", "move"),
        ],
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let mut spans = Vec::new();
    let lead = if state.is_admin() {
        let n = state.unpushed;
        let style = if n > 0 {
            theme.warn().add_modifier(Modifier::BOLD)
        } else {
            theme.dim()
        };
        Span::styled(format!(" {n} unpushed "), style)
    } else if state.role.is_some() {
        Span::styled(" read-only ", theme.warn().add_modifier(Modifier::BOLD))
    } else {
        Span::raw(" ")
    };
    let mut used = lead.width();
    spans.push(lead);
    for (key, what) in hints(state) {
        let w = key.width() + what.width() + 3;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A box of `width` × `height` centred in `area` (never larger than it).
fn popup(frame: &mut Frame, area: Rect, width: u16, height: u16) -> Rect {
    let rect = area.centered(
        Constraint::Length(width.min(area.width)),
        Constraint::Length(height.min(area.height)),
    );
    frame.render_widget(Clear, rect);
    rect
}

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
    ("< >", "sort by the previous / next column"),
    ("I", "invert the sort"),
    ("s", "toggle the status: accepted ↔ pending"),
    ("Space", "mark / unmark a session (Esc clears marks)"),
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

fn draw_help(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
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

fn draw_push_report(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Mode::PushReport(report) = &state.mode else {
        return;
    };
    let mut lines = vec![Line::raw(format!(
        " {} added · {} updated · {} removed · {} unchanged",
        report.added, report.updated, report.removed, report.unchanged
    ))];
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

fn draw_confirm(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::io::Update;
    use crate::ui::model::tests::session_row;
    use crate::ui::state::tests::state;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use mobile_session_proto::{InvalidFile, PushReport, Role};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;
    use std::sync::Arc;

    const PLAIN: Theme = Theme { color: false };

    fn render(state: &mut State, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, state, PLAIN)).unwrap();
        terminal.backend().buffer().clone()
    }

    /// The screen's lines as a person sees them (a wide character's second
    /// cell is not a character of its own).
    fn lines(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                let mut line = String::new();
                let mut skip = 0;
                for x in 0..buf.area.width {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    let symbol = buf[(x, y)].symbol();
                    skip = symbol.width().saturating_sub(1);
                    line.push_str(symbol);
                }
                line
            })
            .collect()
    }

    fn screen(buf: &Buffer) -> String {
        lines(buf).join("\n")
    }

    /// The display column where `needle` starts on the first line holding `on`.
    fn column_of(buf: &Buffer, on: &str, needle: &str) -> usize {
        let lines = lines(buf);
        let line = lines
            .iter()
            .find(|l| l.contains(on) && l.contains(needle))
            .unwrap_or_else(|| panic!("{on:?} / {needle:?} not on screen:\n{}", lines.join("\n")));
        line[..line.find(needle).unwrap()].width()
    }

    fn press(s: &mut State, code: KeyCode) {
        s.on_key(KeyEvent::new(code, KeyModifiers::NONE));
        s.refresh_view_now();
    }

    #[test]
    fn at_80_by_24_everything_has_its_place() {
        let mut s = state(Role::Admin);
        let buf = render(&mut s, 80, 24);
        let text = screen(&buf);
        for needle in [
            "mobile-session ui",
            "admin",
            "All apps",
            "a.app",
            "b.app",
            "Device ▲",
            "Status",
            "E-mail",
            "Unpushed",
            "iPad Pro",
            "pending",
            "marie@example.com",
            "Pixel 7",
            "Android 17.4",
            "0 unpushed",
            "? help",
            "q quit",
            "p push",
        ] {
            assert!(text.contains(needle), "{needle:?} missing:\n{text}");
        }
        assert_eq!(lines(&buf).len(), 24);
    }

    #[test]
    fn the_sort_column_and_direction_show_in_the_header() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Char('>'));
        press(&mut s, KeyCode::Char('I'));
        let text = screen(&render(&mut s, 100, 24));
        assert!(
            text.contains("Status ▼") && !text.contains("Device ▲"),
            "{text}"
        );
        // A column that is not drawn says so in the title.
        press(&mut s, KeyCode::Char('>'));
        press(&mut s, KeyCode::Char('>'));
        press(&mut s, KeyCode::Char('>'));
        press(&mut s, KeyCode::Char('>'));
        press(&mut s, KeyCode::Char('>'));
        assert_eq!(s.query.sort, Column::Id);
        let text = screen(&render(&mut s, 100, 24));
        assert!(text.contains("sorted by Id ▼"), "{text}");
    }

    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        let mut s = state(Role::Admin);
        let mut rows: Vec<Row> = s.rows.iter().cloned().collect();
        rows.push(Row::new(session_row(
            "a.app",
            "0009",
            "华为 Mate 60 测试机",
            "HarmonyOS",
            "王@例子.中国",
        )));
        s.apply(Update::Loaded {
            apps: s.apps.clone(),
            rows: Arc::new(rows),
        });
        s.refresh_view_now();
        let buf = render(&mut s, 120, 30);
        let header = column_of(&buf, "Status", "Status");
        let os = column_of(&buf, "Status", "OS");
        let email = column_of(&buf, "Status", "E-mail");
        assert_eq!(
            column_of(&buf, "HarmonyOS", "accepted"),
            header,
            "{}",
            screen(&buf)
        );
        assert_eq!(column_of(&buf, "HarmonyOS", "HarmonyOS"), os);
        assert_eq!(column_of(&buf, "HarmonyOS", "王@例子.中国"), email);
        assert_eq!(column_of(&buf, "iPad Pro", "pending"), header);
        assert_eq!(column_of(&buf, "iPad Pro", "marie@"), email);
    }

    #[test]
    fn only_the_visible_rows_are_drawn_from_100k() {
        let mut s = state(Role::Admin);
        s.apply(Update::Loaded {
            apps: s.apps.clone(),
            rows: Arc::new(crate::ui::view::tests::many_rows(100_000)),
        });
        s.refresh_view_now();
        press(&mut s, KeyCode::End);
        let text = screen(&render(&mut s, 80, 24));
        assert!(text.contains("100000 of 100000"), "{text}");
        let last = s.current().map(|r| r.device.clone()).unwrap();
        assert!(text.contains(&last), "the last row is on screen:\n{text}");
        let visible = s.page;
        assert!(
            visible > 0 && s.offset + visible == 100_000,
            "window at the end"
        );
        press(&mut s, KeyCode::PageUp);
        render(&mut s, 80, 24);
        assert_eq!(s.cursor, 100_000 - 1 - visible);
    }

    #[test]
    fn a_reader_sees_read_only_and_no_write_keys() {
        let mut s = state(Role::Reader);
        let text = screen(&render(&mut s, 100, 24));
        assert!(text.contains("READ-ONLY (reader)"), "{text}");
        assert!(text.contains(" read-only "), "{text}");
        assert!(
            !text.contains("p push") && !text.contains("a accept"),
            "{text}"
        );
    }

    #[test]
    fn the_detail_pane_shows_the_json_without_tokens() {
        let mut s = state(Role::Admin);
        let key = s.current().unwrap().key.clone();
        s.apply(Update::Detail {
            key,
            result: Ok(r#"{"session":{"id":"0002"},"token":"eyJTOKEN","device":{"description":"iPad Pro","token":"apns"}}"#.into()),
        });
        let text = screen(&render(&mut s, 100, 40));
        assert!(text.contains("\"id\": \"0002\""), "{text}");
        assert!(text.contains("\"token\": \"<redacted>\""), "{text}");
        assert!(
            !text.contains("eyJTOKEN") && !text.contains("apns\""),
            "{text}"
        );
    }

    #[test]
    fn help_push_report_confirm_and_status_line() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Char('?'));
        let text = screen(&render(&mut s, 100, 30));
        assert!(
            text.contains("toggle the status") && text.contains("reveal the file"),
            "{text}"
        );
        // All of it fits at 80×24.
        let text = screen(&render(&mut s, 80, 24));
        for needle in [
            "move in the focused list",
            "quit · repaint",
            "p makes them live",
        ] {
            assert!(text.contains(needle), "{needle:?} missing:\n{text}");
        }
        press(&mut s, KeyCode::Esc);

        s.apply(Update::Pushed(PushReport {
            added: 1,
            updated: 0,
            removed: 2,
            unchanged: 3,
            invalid: vec![InvalidFile {
                path: "/d/MobileApps/a.app/dead".into(),
                code: 4,
                error: "the token does not match".into(),
            }],
        }));
        let text = screen(&render(&mut s, 100, 30));
        assert!(
            text.contains("1 added · 0 updated · 2 removed · 3 unchanged"),
            "{text}"
        );
        assert!(text.contains("code 4 /d/MobileApps/a.app/dead"), "{text}");
        assert!(text.contains("the token does not match"), "{text}");
        press(&mut s, KeyCode::Esc);

        press(&mut s, KeyCode::Char('d'));
        let text = screen(&render(&mut s, 80, 24));
        assert!(text.contains("Delete 1 session?"), "{text}");
        press(&mut s, KeyCode::Char('n'));

        s.apply(Update::Gone {
            reason: "connection refused".into(),
        });
        let text = screen(&render(&mut s, 80, 24));
        assert!(text.contains("daemon gone, reconnecting…"), "{text}");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let mut s = state(Role::Admin);
        for (w, h) in [(1, 1), (10, 3), (20, 6), (80, 5), (200, 60)] {
            render(&mut s, w, h);
            press(&mut s, KeyCode::Char('?'));
            render(&mut s, w, h);
            press(&mut s, KeyCode::Esc);
            press(&mut s, KeyCode::Enter);
            render(&mut s, w, h);
            press(&mut s, KeyCode::Esc);
        }
    }
}
