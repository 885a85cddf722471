//! The apps table: "All apps", then one row per app folder.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row as TableRow, Table, TableState};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{fit, highlight, lay_out, pane, Theme};
use crate::ui::state::{Focus, Mode, State};

const UNREADABLE: &str = " (unreadable)";

pub fn draw_apps(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let focused = state.focus == Focus::Apps && state.mode == Mode::Normal;
    let name_of = |a: &mobile_session_proto::AppRow| a.name.clone().unwrap_or(a.app_id.clone());
    let name_width = state
        .apps
        .iter()
        .map(|a| name_of(a).width())
        .fold("All apps".len(), usize::max)
        .min(20) as u16;
    let constraints = [
        Constraint::Length(name_width),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(7),
    ];
    let widths = lay_out(area.width.saturating_sub(2), &constraints);
    let (name_w, folder_w) = (widths[0] as usize, widths[1] as usize);
    let total: u64 = state.apps.iter().map(|a| a.sessions).sum();
    let pending: u64 = state.apps.iter().map(|a| a.pending).sum();
    let mut rows = vec![TableRow::new(vec![
        Cell::from("All apps"),
        Cell::from(""),
        Cell::from(total.to_string()),
        Cell::from(pending.to_string()),
    ])];
    for a in &state.apps {
        let folder = if a.unreadable {
            let room = folder_w.saturating_sub(UNREADABLE.len());
            Cell::from(Line::from(vec![
                Span::raw(fit(&a.folder, room)),
                Span::styled(UNREADABLE, theme.error()),
            ]))
        } else {
            Cell::from(fit(&a.folder, folder_w))
        };
        let pending = if a.pending > 0 {
            Cell::from(Span::styled(a.pending.to_string(), theme.warn()))
        } else {
            Cell::from("0")
        };
        rows.push(TableRow::new(vec![
            Cell::from(fit(&name_of(a), name_w)),
            folder,
            Cell::from(a.sessions.to_string()),
            pending,
        ]));
    }
    let header = TableRow::new(["App", "Folder", "Sessions", "Pending"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths.into_iter().map(Constraint::Length))
        .header(header)
        .block(pane(Line::from(" Apps "), focused, theme))
        .row_highlight_style(highlight(focused));
    let mut table_state = TableState::new().with_selected(Some(state.app_cursor));
    frame.render_stateful_widget(table, area, &mut table_state);
}
