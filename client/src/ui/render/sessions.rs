//! The sessions table. Every column keeps its place at 80 columns (the Id
//! shortened), and every value cut to its column ends with `…`.

use mobile_session_proto::{Status, Unpushed};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{fit, highlight, pane, Theme};
use crate::ui::model::Row;
use crate::ui::state::{Focus, Mode, State};
use crate::ui::view::Column;

/// Inside width from which the Id column shows more than its first
/// characters.
const WIDE: u16 = 108;

/// How wide a column is: its own width, or a share of what the fixed ones
/// leave, up to what its widest value needs.
#[derive(Debug, Clone, Copy)]
enum Want {
    Fixed(usize),
    Share(usize),
}

/// The columns drawn, in order (`None`: the mark), and how wide each wants to be.
fn columns(state: &State, inner: u16) -> Vec<(Option<Column>, Want)> {
    let sort = state.query.sort;
    let title = |c: Column| c.title().width() + if c == sort { 2 } else { 0 };
    let widest = state.widest;
    let mut columns = vec![(None, Want::Fixed(1))];
    if state.query.app.is_none() {
        let names = state
            .apps
            .iter()
            .map(|a| a.name.as_deref().unwrap_or(a.app_id.as_str()).width())
            .max()
            .unwrap_or(0);
        let width = names.min(16).max(title(Column::App));
        columns.push((Some(Column::App), Want::Fixed(width)));
    }
    let id = if inner >= WIDE { 14 } else { 9 };
    columns.extend([
        (
            Some(Column::Device),
            Want::Share(widest.device.max(title(Column::Device))),
        ),
        (
            Some(Column::Status),
            Want::Fixed(8.max(title(Column::Status))),
        ),
        (
            Some(Column::Os),
            Want::Share(widest.os.max(title(Column::Os))),
        ),
        (
            Some(Column::Email),
            Want::Share(widest.email.max(title(Column::Email))),
        ),
        (Some(Column::Id), Want::Fixed(id)),
        (
            Some(Column::Unpushed),
            Want::Fixed(widest.mark.max(title(Column::Unpushed))),
        ),
    ]);
    columns
}

/// The widths of `wants` across `inner` cells, one cell apart: fixed
/// columns first, then the rest shared so that a narrow value is never cut
/// while a wide one takes more than its share (water-filling); what is
/// left over once every value fits is spread among the shares.
fn widths(inner: u16, wants: &[Want]) -> Vec<usize> {
    let spacing = wants.len().saturating_sub(1);
    let fixed: usize = wants
        .iter()
        .map(|w| match w {
            Want::Fixed(n) => *n,
            Want::Share(_) => 0,
        })
        .sum();
    let mut left = (inner as usize).saturating_sub(fixed + spacing);
    let mut out: Vec<usize> = wants
        .iter()
        .map(|w| match w {
            Want::Fixed(n) => *n,
            Want::Share(_) => 0,
        })
        .collect();
    let mut open: Vec<(usize, usize)> = wants
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Want::Share(n) => Some((i, *n)),
            Want::Fixed(_) => None,
        })
        .collect();
    let shares: Vec<usize> = open.iter().map(|o| o.0).collect();
    while !open.is_empty() {
        let fair = left / open.len();
        let (small, big): (Vec<_>, Vec<_>) = open.iter().partition(|o| o.1 <= fair);
        if small.is_empty() {
            for (k, (i, _)) in big.iter().enumerate() {
                out[*i] = fair + usize::from(k < left % big.len());
            }
            return out;
        }
        for (i, n) in small {
            out[i] = n;
            left -= n;
        }
        open = big;
    }
    for (k, i) in shares.iter().enumerate() {
        out[*i] += left / shares.len().max(1) + usize::from(k < left % shares.len().max(1));
    }
    out
}

pub fn draw_sessions(frame: &mut Frame, area: Rect, state: &mut State, theme: Theme) {
    let focused = state.focus == Focus::Sessions && state.mode == Mode::Normal;
    // Borders and header take three lines; the rest is the window.
    let height = area.height.saturating_sub(3) as usize;
    state.scroll_into_view(height);
    let state = &*state;
    let inner = area.width.saturating_sub(2);
    let wanted = columns(state, inner);
    let wants: Vec<Want> = wanted.iter().map(|c| c.1).collect();
    let widths = widths(inner, &wants);
    let columns: Vec<(Option<Column>, usize)> =
        wanted.iter().zip(&widths).map(|(c, &w)| (c.0, w)).collect();

    let sort = state.query.sort;
    let arrow = state.query.direction.arrow();
    let header = TableRow::new(columns.iter().map(|&(c, w)| match c {
        Some(c) if c == sort => Cell::from(fit(&format!("{} {arrow}", c.title()), w)),
        Some(c) => Cell::from(fit(c.title(), w)),
        None => Cell::from(""),
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));

    let start = state.offset.min(state.shown.order.len());
    let end = (start + height).min(state.shown.order.len());
    let rows: Vec<TableRow> = state.shown.order[start..end]
        .iter()
        .filter_map(|&i| state.shown.rows.get(i as usize))
        .map(|r| session_row(r, &columns, state, theme))
        .collect();

    let sorted_unseen = !columns.iter().any(|c| c.0 == Some(sort));
    let block = pane(title(state, inner, sorted_unseen, theme), focused, theme);
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
    let table = Table::new(
        rows,
        widths.into_iter().map(|w| Constraint::Length(w as u16)),
    )
    .header(header)
    .block(block)
    .row_highlight_style(highlight(focused));
    let mut table_state = TableState::new().with_selected(Some(state.cursor.saturating_sub(start)));
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// " Sessions · FOLDER · 2 of 3 · filter: … · 1 marked ": the folder is
/// what gets cut when the line is too long.
fn title(state: &State, inner: u16, sorted_unseen: bool, theme: Theme) -> Line<'static> {
    let counts = format!(
        " · {} of {}",
        state.shown.order.len(),
        state.shown.rows.len()
    );
    let mut rest = vec![Span::raw(counts)];
    if sorted_unseen {
        let sort = state.query.sort;
        let arrow = state.query.direction.arrow();
        rest.push(Span::raw(format!(" · sorted by {} {arrow}", sort.title())));
    }
    if !state.query.filter.is_empty() {
        rest.push(Span::raw(" · filter: "));
        rest.push(Span::styled(state.filter_input.clone(), theme.key()));
    }
    if !state.marks.is_empty() {
        rest.push(Span::raw(format!(" · {} marked", state.marks.len())));
    }
    rest.push(Span::raw(" "));
    let scope = match state.selected_app() {
        Some(a) => a.folder.as_str(),
        None => "All apps",
    };
    let used = " Sessions · ".width() + rest.iter().map(Span::width).sum::<usize>();
    let room = (inner as usize).saturating_sub(used).max(8);
    let mut spans = vec![Span::raw(format!(" Sessions · {}", fit(scope, room)))];
    spans.extend(rest);
    Line::from(spans)
}

fn session_row<'a>(
    r: &'a Row,
    columns: &[(Option<Column>, usize)],
    state: &State,
    theme: Theme,
) -> TableRow<'a> {
    let cells = columns.iter().map(|&(c, w)| match c {
        None if state.marks.contains(&r.key) => Cell::from(Span::styled("●", theme.key())),
        None => Cell::from(" "),
        Some(Column::App) => Cell::from(fit(&r.app_name, w)),
        Some(Column::Device) => Cell::from(fit(&r.device, w)),
        Some(Column::Status) => match r.status {
            Some(Status::Accepted) => Cell::from(Span::styled("accepted", theme.good())),
            Some(Status::Pending) => Cell::from(Span::styled("pending", theme.warn())),
            None => Cell::from(Span::styled("—", theme.dim())),
        },
        Some(Column::Os) => Cell::from(fit(&r.os, w)),
        Some(Column::Email) => Cell::from(fit(&r.email, w)),
        Some(Column::Id) => Cell::from(fit(&r.key.id, w)),
        Some(Column::Unpushed) => {
            let style = match (r.invalid.is_some(), r.unpushed) {
                (true, _) | (_, Some(Unpushed::Invalid)) => theme.error(),
                (_, Some(Unpushed::Deleted)) => theme.fg(Color::Magenta),
                (_, Some(_)) => theme.warn(),
                _ => Style::new(),
            };
            Cell::from(Span::styled(fit(&r.mark(), w), style))
        }
    });
    let row = TableRow::new(cells.collect::<Vec<_>>());
    if r.is_deleted() {
        row.style(Style::new().add_modifier(Modifier::CROSSED_OUT))
    } else {
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_never_cuts_a_narrow_value_to_feed_a_wide_one() {
        let wants = [
            Want::Fixed(1),
            Want::Share(8),
            Want::Share(40),
            Want::Share(12),
        ];
        // 3 cells of spacing and 1 fixed leave 36: 8 and 12 whole, 16 for the wide one.
        assert_eq!(widths(40, &wants), [1, 8, 16, 12]);
        // Room for all: the rest is spread.
        assert_eq!(widths(70, &wants), [1, 10, 42, 14]);
        // Too little for anyone: fair shares.
        assert_eq!(widths(16, &wants), [1, 4, 4, 4]);
        assert_eq!(widths(0, &wants), [1, 0, 0, 0]);
    }
}
