//! The apps table and the sessions table.

use mobile_session_proto::{Status, Unpushed};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{highlight, pane, Theme};
use crate::ui::model::Row;
use crate::ui::state::{Focus, Mode, State};
use crate::ui::view::Column;

pub fn draw_apps(frame: &mut Frame, area: Rect, state: &State, theme: Theme) {
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

pub fn draw_sessions(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme) {
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
