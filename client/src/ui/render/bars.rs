//! The status line (what happened, the latest event) and the footer (the
//! unpushed count and the keys).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::Theme;
use crate::ui::state::{describe_event, Link, Mode, State};

pub fn draw_status(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
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

pub fn draw_footer(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
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
