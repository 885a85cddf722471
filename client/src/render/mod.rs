//! What the daemon answers, as text: human tables (aligned by display
//! width, coloured on a terminal) and the `--json` shapes that README.md's
//! "JSON output" section documents (keep the two in step). One file per
//! command's output; here what they share. Every function returns the
//! text; `main.rs` writes it, so that a closed stdout is handled in one
//! place.

mod apps;
mod auth;
mod block;
mod change;
mod event;
mod history;
mod notify;
mod removal;
mod sessions;
mod status;

pub use apps::apps;
pub use auth::{authenticated, not_ok, not_signed_in, session_done, verify};
pub use block::{blocked, blocks, unblocked};
pub use change::{changed, dry_run, push};
pub use event::event;
pub use history::history;
pub use notify::notified;
pub use removal::removal;
pub use sessions::{sessions, sessions_by_page, sessions_end, sessions_page};
pub use status::status;

use unicode_width::UnicodeWidthStr;

/// How to print: the global flags, and whether stdout takes colours.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    pub json: bool,
    pub quiet: bool,
    pub legend: bool,
    pub color: bool,
}

#[derive(Debug, Clone, Copy)]
enum Paint {
    Green,
    Yellow,
    Red,
}

impl View {
    fn paint(&self, text: &str, paint: Paint) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match paint {
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn status_word(&self, word: &str) -> String {
        match word {
            "accepted" => self.paint(word, Paint::Green),
            "pending" => self.paint(word, Paint::Yellow),
            "" => String::new(),
            other => self.paint(other, Paint::Red),
        }
    }
}

/// A cell: its plain text (for width) and what is printed (maybe coloured).
struct Cell {
    text: String,
    shown: Option<String>,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell {
            text: printable(&text),
            shown: None,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::from(text.to_string())
    }
}

/// Control characters from a session file must not reach the terminal
/// (an escape sequence in a device name could rewrite the screen).
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A session file as stored (`show` of an invalid file), for the terminal:
/// its lines kept (CRLF read as LF) and tabs too, every other control
/// character shown as `?`.
pub fn stored_text(text: &str) -> String {
    let mut out: String = text
        .trim_end()
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    out.push('\n');
    out
}

/// Left-aligned columns, two spaces apart, padded by display width (so
/// that "小米 13 Ultra" takes the 13 columns it occupies on screen).
fn table(view: &View, header: &[&str], rows: Vec<Vec<Cell>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.text.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[Cell]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            s.push_str(c.shown.as_deref().unwrap_or(&c.text));
            if i + 1 < cells.len() {
                let pad = w.saturating_sub(c.text.width()) + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    if view.legend {
        let head: Vec<Cell> = header.iter().map(|h| Cell::from(*h)).collect();
        line(&head);
    }
    for r in &rows {
        line(r);
    }
    out
}

fn colored(text: String, shown: String) -> Cell {
    let text = printable(&text);
    Cell {
        shown: Some(shown),
        text,
    }
}

/// `-q` output of a command that answers a session id: the id, or nothing.
fn id_line(id: Option<&str>) -> String {
    id.map(|id| format!("{id}\n")).unwrap_or_default()
}

/// A time (ms since the epoch) in RFC 3339, UTC, to the second.
fn rfc3339(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// How long ago `ms` was, the way people say it: "3 min ago".
fn ago(ms: Option<u64>) -> String {
    let Some(ms) = ms else {
        return "never".to_string();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let secs = now.saturating_sub(ms) / 1000;
    match secs {
        0..=59 => "just now".to_string(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => match secs / 86_400 {
            1 => "1 day ago".to_string(),
            d => format!("{d} days ago"),
        },
    }
}

/// A long value (a DeviceCheck device id is KiB long) cut for a table.
fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_file_reaches_the_terminal_without_control_characters() {
        let torn = "{\"a\":\r\n\t\"\x1b[2J\u{9b}31m\x07\r\n";
        assert_eq!(stored_text(torn), "{\"a\":\n\t\"?[2J?31m?\n");
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = View::default();
        let color = View {
            color: true,
            ..plain
        };
        assert_eq!(plain.status_word("pending"), "pending");
        assert!(color.status_word("pending").contains("\x1b[33m"));
    }
}
