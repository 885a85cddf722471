//! The status line (what happened, the latest event) and the footer (the
//! unpushed count and the keys).

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{fit_line, Theme};
use crate::ui::state::{describe_event, Link, Mode, State};

pub fn draw_status(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let width = area.width as usize;
    let left = status_text(state, theme);
    let left_width: usize = left.iter().map(Span::width).sum();
    // The latest event, on the right, only where it fits beside what the
    // line says: the two never run into each other.
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
        })
        .filter(|e| left_width + 2 + e.width() <= width);
    frame.render_widget(Paragraph::new(Line::from(fit_line(left, width))), area);
    if let Some(e) = event {
        frame.render_widget(
            Paragraph::new(Line::styled(e, theme.dim())).right_aligned(),
            area,
        );
    }
}

/// What the status line says: the filter being typed, the link, a request
/// under way, or the last message.
fn status_text(state: &State, theme: Theme) -> Vec<Span<'static>> {
    if state.mode == Mode::Filter {
        return vec![
            Span::styled(" filter (e-mail, device, id): ", theme.key()),
            Span::raw(state.filter_input.clone()),
            Span::styled("▏", theme.key()),
            Span::styled("  Enter keep · Esc clear", theme.dim()),
        ];
    }
    match (&state.link, state.busy, &state.message) {
        (Link::Gone(reason), _, _) => vec![Span::styled(
            format!(" daemon gone, reconnecting… ({reason})"),
            theme.error(),
        )],
        (Link::Connecting, _, _) => vec![Span::styled(" connecting…", theme.dim())],
        (Link::Connected, Some(busy), _) => vec![Span::styled(format!(" {busy}"), theme.dim())],
        (Link::Connected, None, Some(m)) if m.error => {
            vec![Span::styled(format!(" {}", m.text), theme.error())]
        }
        (Link::Connected, None, Some(m)) => {
            let mut spans = vec![Span::raw(format!(" {}", m.text))];
            // Said from the same count as the footer's, so the two agree.
            if m.unpushed_note && state.unpushed > 0 {
                spans.push(Span::raw(" — not live yet, p pushes"));
            }
            spans
        }
        (Link::Connected, None, None) => Vec::new(),
    }
}

/// `HH:MM:SS` UTC of a time in milliseconds since the epoch.
fn clock(time_ms: u64) -> String {
    let s = (time_ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// The footer's key hints, in order of importance (`? help` first).
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

/// The footer's lines: the unpushed count (or "read-only"), then every
/// key hint, flowing onto a second line when one is not wide enough.
fn footer_lines(state: &State, theme: Theme, width: usize) -> Vec<Line<'static>> {
    let lead = if state.is_admin() {
        let n = state.unpushed;
        let style = if n > 0 {
            theme.warn().add_modifier(Modifier::BOLD)
        } else {
            theme.dim()
        };
        Some(Span::styled(format!(" {n} unpushed "), style))
    } else if state.role.is_some() {
        Some(Span::styled(
            " read-only ",
            theme.warn().add_modifier(Modifier::BOLD),
        ))
    } else {
        None
    };
    let hints = hints(state);
    // The lead gives way before `? help` does, on a very narrow terminal.
    let first = hints.first().map_or(0, |(k, w)| k.width() + w.width() + 2);
    let mut lines = vec![Vec::new()];
    let mut used = 0;
    if let Some(lead) = lead.filter(|l| l.width() + first <= width) {
        used = lead.width();
        lines[0].push(lead);
    }
    for (key, what) in hints {
        let w = key.width() + what.width() + 2;
        if used + w > width && used > 0 {
            if lines.len() == FOOTER_LINES {
                break;
            }
            lines.push(Vec::new());
            used = 0;
        }
        let line = lines.last_mut().expect("one line at least");
        line.push(Span::raw(" "));
        line.push(Span::styled(key, theme.key()));
        line.push(Span::raw(format!(" {what}")));
        used += w;
    }
    lines.into_iter().map(Line::from).collect()
}

/// The most lines the footer takes.
const FOOTER_LINES: usize = 2;

/// How many lines the footer needs at `width`.
pub fn footer_height(state: &State, width: u16) -> u16 {
    footer_lines(state, Theme { color: false }, width as usize).len() as u16
}

pub fn draw_footer(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let lines = footer_lines(state, theme, area.width as usize);
    frame.render_widget(Paragraph::new(lines), area);
}
