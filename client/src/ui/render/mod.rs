//! Draws the window from the [`State`]. Only the rows that fit are turned
//! into widgets, so 100 000 sessions cost what a screenful costs.
//!
//! - here: the theme, the frame's layout, the title bar;
//! - `apps`, `sessions` — the two tables;
//! - `detail` — the selected session's JSON;
//! - `bars` — the status line and the footer;
//! - `popups` — help, the push report, the delete confirmation.

mod apps;
mod bars;
mod detail;
mod popups;
mod sessions;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use self::apps::draw_apps;
use self::bars::{draw_footer, draw_status, footer_height};
use self::detail::draw_detail;
use self::popups::{draw_confirm, draw_help, draw_push_report};
use self::sessions::draw_sessions;
use super::state::{Mode, State};

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

    pub(super) fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub(super) fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub(super) fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub(super) fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub(super) fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub(super) fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    fn title(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub(super) fn focused_border(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

pub fn draw(frame: &mut Frame, state: &mut State, theme: Theme) {
    let footer_height = footer_height(state, frame.area().width);
    let [title, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(footer_height),
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
    if let Some(host) = &state.host {
        left.push(Span::raw(format!(" · on {host}")));
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

/// `text` cut to `width` display columns, ending with `…` where it was cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `spans` cut to `width` display columns, the cut one ending with `…`.
fn fit_line(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    if spans.iter().map(Span::width).sum::<usize>() <= width {
        return spans;
    }
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = span.width();
        if used + w < width {
            used += w;
            out.push(span);
        } else {
            out.push(Span::styled(fit(&span.content, width - used), span.style));
            break;
        }
    }
    out
}

/// The widths `constraints` get across `total` cells, one cell apart, as
/// a table lays out its columns: known before drawing, so that each value
/// can be cut to its column with a `…`.
fn lay_out(total: u16, constraints: &[Constraint]) -> Vec<u16> {
    Layout::horizontal(constraints.iter().copied())
        .spacing(1)
        .split(Rect::new(0, 0, total, 1))
        .iter()
        .map(|r| r.width)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::io::Update;
    use crate::ui::model::tests::session_row;
    use crate::ui::model::Row;
    use crate::ui::state::tests::state;
    use crate::ui::view::Column;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use mobile_session_proto::{InvalidFile, PushReport, Role, Status};
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
            "Id",
            "0002",
            "0 unpushed",
            "? help",
            "q quit",
            "p push",
            "/ filter",
            "Tab apps",
            "o reveal",
            "r refresh",
        ] {
            assert!(text.contains(needle), "{needle:?} missing:\n{text}");
        }
        assert_eq!(lines(&buf).len(), 24);
    }

    #[test]
    fn at_80_columns_the_id_stays_and_every_cut_value_ends_with_an_ellipsis() {
        let mut s = state(Role::Admin);
        let mut rows: Vec<Row> = s.rows.iter().cloned().collect();
        rows.push(Row::new(session_row(
            "b.app",
            "7023d9205074199d1c16fc00d24354e778137675",
            "Samsung Galaxy Tab S9 Ultra 5G",
            "Android",
            "a.very.long.address@example.com",
        )));
        s.apply(Update::Loaded {
            apps: s.apps.clone(),
            rows: Arc::new(rows),
        });
        s.refresh_view_now();
        for width in [80, 120] {
            let text = screen(&render(&mut s, width, 24));
            let row = text
                .lines()
                .find(|l| l.contains("Samsung"))
                .unwrap_or_else(|| panic!("row missing:\n{text}"));
            // Each long value is either whole or a prefix ending with "…".
            for value in [
                "Samsung Galaxy Tab S9 Ultra 5G",
                "a.very.long.address@example.com",
                "7023d9205074199d1c16fc00d24354e778137675",
            ] {
                let whole = row.contains(value);
                let cut = (4..value.len()).any(|n| row.contains(&format!("{}…", &value[..n])));
                assert!(whole || cut, "{value:?} cut without …:\n{row}");
            }
            assert!(row.contains("7023d920"), "the Id column stays:\n{text}");
            assert!(text.contains("? help"), "{text}");
        }
    }

    #[test]
    fn the_status_line_never_runs_into_the_event() {
        let mut s = state(Role::Admin);
        let mut e = mobile_session_proto::Event::new(mobile_session_proto::EventKind::Changed);
        e.time_ms = 1_700_000_000_123;
        e.id = Some("a6a3a4506513270e269e0d37f2a74de452e6b438".into());
        s.apply(Update::Events { last: e, count: 1 });
        let path = "/var/lib/mobile-sessiond/MobileApps/UTT7VDX8W5.com.contactApp.Contact/a6a3a4506513270e269e0d37f2a74de452e6b438";
        s.set_message(
            format!("{path} (no desktop to open a file manager on)"),
            false,
        );
        let buf = render(&mut s, 80, 24);
        let line = &lines(&buf)[21];
        assert!(
            line.contains("/var/lib") && line.trim_end().ends_with('…'),
            "{line}"
        );
        assert!(
            !line.contains("changed a6a3"),
            "the event makes way:\n{line}"
        );
        // A short message and the event both fit, apart.
        s.set_message("marks cleared", false);
        let line = lines(&render(&mut s, 80, 24))[21].clone();
        assert!(
            line.contains(" marks cleared ") && line.contains("changed a6a3a450"),
            "{line}"
        );
    }

    #[test]
    fn the_status_line_and_the_footer_agree_on_what_is_unpushed() {
        let mut s = state(Role::Admin);
        let report = |status| mobile_session_proto::ChangeReport {
            sessions: vec![mobile_session_proto::ChangedSession {
                app: "a.app".into(),
                id: "0002".into(),
                path: String::new(),
                status: Some(status),
                changed: true,
            }],
            push: None,
        };
        s.apply(Update::Changed {
            status: Some(Status::Accepted),
            report: report(Status::Accepted),
        });
        // Nothing is unpushed yet (the reload has not come, or the change
        // put back what is live): neither says otherwise.
        let text = screen(&render(&mut s, 80, 24));
        assert!(
            text.contains("0 unpushed") && !text.contains("not live yet"),
            "{text}"
        );
        let mut rows: Vec<Row> = s.rows.iter().cloned().collect();
        rows[1].unpushed = Some(mobile_session_proto::Unpushed::Changed);
        s.apply(Update::Loaded {
            apps: s.apps.clone(),
            rows: Arc::new(rows),
        });
        let text = screen(&render(&mut s, 80, 24));
        assert!(
            text.contains("1 unpushed") && text.contains("not live yet"),
            "{text}"
        );
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
        // A column that is not drawn (the App of one app's sessions) says
        // so in the title.
        for _ in 0..4 {
            press(&mut s, KeyCode::Char('>'));
        }
        assert_eq!(s.query.sort, Column::App);
        press(&mut s, KeyCode::Tab);
        press(&mut s, KeyCode::Down);
        let text = screen(&render(&mut s, 100, 24));
        assert!(text.contains("sorted by App ▼"), "{text}");
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
            writing: vec![],
        }));
        let text = screen(&render(&mut s, 100, 30));
        assert!(
            text.contains("1 added, 0 updated, 2 removed, 3 unchanged, 1 invalid"),
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
