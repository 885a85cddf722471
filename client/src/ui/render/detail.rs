//! The selected session: its path, what is wrong with it, its JSON.

use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{pane, Theme};
use crate::ui::model::REDACTED;
use crate::ui::state::State;

pub fn draw_detail(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme, zoomed: bool) {
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
