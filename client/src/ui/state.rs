//! The window's state, free of I/O: apps, rows, the shown order, cursor,
//! marks, modes. Daemon updates go in here, keys in `keys.rs`; [`Effect`]s
//! come out for the event loop to carry out. Everything here is cheap: the order of
//! 100 000 rows is computed by `view::compute`, which the loop runs off
//! the input path, and installed with [`State::install_view`].

use std::collections::HashSet;
use std::sync::Arc;

use mobile_session_proto::{AppRow, Event, EventKind, PushReport, Role};

use super::io::{Command, Update};
use super::model::{detail_text, Row, SessionKey};
use super::view::Query;

/// What the event loop must do after a key or an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a request to the daemon task.
    Send(Command),
    /// Show a file in the desktop's file manager.
    Reveal(String),
    /// Repaint the whole screen (Ctrl-L), in case something wrote over it.
    Repaint,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Apps,
    Sessions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing after `/`.
    Filter,
    /// `d` asks first; `y` deletes these.
    ConfirmDelete(Vec<SessionKey>),
    Help,
    /// The detail pane over the whole body, scrollable.
    Detail,
    /// What the last push did, until dismissed.
    PushReport(PushReport),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    /// The daemon went away; the daemon task is reconnecting.
    Gone(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// A change was written: the status line adds "not live yet" while
    /// anything is unpushed (the count the footer shows).
    pub unpushed_note: bool,
}

/// The selected session's JSON, as the detail pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub key: SessionKey,
    pub text: String,
    pub error: bool,
}

/// The rows on screen and the order they are drawn in. The order indexes
/// these rows, not the newest ones, until a new order is installed.
#[derive(Debug, Clone)]
pub struct Shown {
    pub rows: Arc<Vec<Row>>,
    pub query: Query,
    pub order: Vec<u32>,
}

pub struct State {
    pub link: Link,
    pub role: Option<Role>,
    pub daemon_version: String,
    /// The other host, when the daemon is reached through ssh.
    pub host: Option<String>,
    pub apps: Vec<AppRow>,
    /// 0 is "All apps", i + 1 is `apps[i]`.
    pub app_cursor: usize,
    /// The newest rows from the daemon.
    pub rows: Arc<Vec<Row>>,
    /// Bumped on every load, so that the detail of an unchanged selection
    /// is fetched again after its file changed.
    pub rows_generation: u64,
    pub unpushed: usize,
    /// The widest value of each column that takes a share of the width.
    pub widest: Widest,
    /// What the user asked to see.
    pub query: Query,
    pub shown: Shown,
    /// Index into `shown.order`.
    pub cursor: usize,
    /// The first row drawn (the table is windowed).
    pub offset: usize,
    /// Rows the table had room for at the last draw (PgUp/PgDn step).
    pub page: usize,
    /// Kept across reloads and re-sorts: the cursor follows its session.
    pub selected: Option<SessionKey>,
    pub marks: HashSet<SessionKey>,
    pub focus: Focus,
    pub mode: Mode,
    /// The `/` text as typed.
    pub filter_input: String,
    pub detail: Option<Detail>,
    /// The detail asked for last: session and load.
    pub detail_requested: Option<(SessionKey, u64)>,
    pub detail_scroll: u16,
    pub report_scroll: u16,
    pub message: Option<Message>,
    /// The latest daemon event and how many came with it since the last load.
    pub last_event: Option<(Event, u64)>,
    /// Something a request is doing ("pushing…").
    pub busy: Option<&'static str>,
}

impl State {
    pub fn new() -> Self {
        let rows: Arc<Vec<Row>> = Arc::new(Vec::new());
        Self {
            link: Link::Connecting,
            role: None,
            daemon_version: String::new(),
            host: None,
            apps: Vec::new(),
            app_cursor: 0,
            rows: rows.clone(),
            rows_generation: 0,
            unpushed: 0,
            widest: Widest::default(),
            query: Query::default(),
            shown: Shown {
                rows,
                query: Query::default(),
                order: Vec::new(),
            },
            cursor: 0,
            offset: 0,
            page: 10,
            selected: None,
            marks: HashSet::new(),
            focus: Focus::Sessions,
            mode: Mode::Normal,
            filter_input: String::new(),
            detail: None,
            detail_requested: None,
            detail_scroll: 0,
            report_scroll: 0,
            message: None,
            last_event: None,
            busy: None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    /// The row under the cursor.
    pub fn current(&self) -> Option<&Row> {
        let i = *self.shown.order.get(self.cursor)?;
        self.shown.rows.get(i as usize)
    }

    /// The app folder the table is limited to, `None` for all apps.
    pub fn selected_app(&self) -> Option<&AppRow> {
        self.app_cursor
            .checked_sub(1)
            .and_then(|i| self.apps.get(i))
    }

    /// Whether the shown order is out of date.
    pub fn view_is_stale(&self) -> bool {
        !Arc::ptr_eq(&self.shown.rows, &self.rows) || self.shown.query != self.query
    }

    /// Computes the order now, on this thread (for few rows, and tests).
    pub fn refresh_view_now(&mut self) {
        if self.view_is_stale() {
            let order = super::view::compute(&self.rows, &self.query);
            self.install_view(self.rows.clone(), self.query.clone(), order);
        }
    }

    /// Installs an order computed for `rows` and `query`, which may already
    /// be older than the newest ones (the loop then computes again). The
    /// cursor stays on the selected session when it is still shown.
    pub fn install_view(&mut self, rows: Arc<Vec<Row>>, query: Query, order: Vec<u32>) {
        self.shown = Shown { rows, query, order };
        let found = self.selected.as_ref().and_then(|key| {
            self.shown.order.iter().position(|&i| {
                self.shown
                    .rows
                    .get(i as usize)
                    .is_some_and(|r| &r.key == key)
            })
        });
        match found {
            Some(i) => self.cursor = i,
            None => {
                self.cursor = self.cursor.min(self.shown.order.len().saturating_sub(1));
                self.selected = self.current().map(|r| r.key.clone());
            }
        }
    }

    /// The session whose JSON the detail pane should show, with the load it
    /// belongs to; the loop fetches it when it differs from the last request.
    pub fn wanted_detail(&self) -> Option<(SessionKey, u64)> {
        let row = self.current()?;
        Some((row.key.clone(), self.rows_generation))
    }

    /// The first row to draw so that the cursor is visible in `height` rows.
    pub fn scroll_into_view(&mut self, height: usize) {
        self.page = height.max(1);
        let len = self.shown.order.len();
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + self.page {
            self.offset = self.cursor + 1 - self.page;
        }
        // No blank space below the last row after a shrink.
        self.offset = self.offset.min(len.saturating_sub(self.page));
    }

    pub fn set_message(&mut self, text: impl Into<String>, error: bool) {
        self.message = Some(Message {
            text: text.into(),
            error,
            unpushed_note: false,
        });
    }

    pub(super) fn move_cursor(&mut self, to: usize) {
        let last = self.shown.order.len().saturating_sub(1);
        self.cursor = to.min(last);
        self.selected = self.current().map(|r| r.key.clone());
        self.detail_scroll = 0;
    }

    pub(super) fn move_app(&mut self, to: usize) {
        self.app_cursor = to.min(self.apps.len());
        self.query.app = self.selected_app().map(|a| a.folder.clone());
    }

    /// Applies what the daemon task reports.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Connected { role, version } => {
                if matches!(self.link, Link::Gone(_)) {
                    self.set_message("reconnected to mobile-sessiond", false);
                }
                self.link = Link::Connected;
                self.role = Some(role);
                self.daemon_version = version;
            }
            Update::Gone { reason } => {
                self.link = Link::Gone(reason);
                self.busy = None;
            }
            Update::Loaded { apps, rows } => self.loaded(apps, rows),
            Update::Detail { key, result } => {
                let (text, error) = match result {
                    Ok(json) => (detail_text(&json), false),
                    Err(e) => (e, true),
                };
                self.detail = Some(Detail { key, text, error });
            }
            Update::Changed { status, report } => {
                self.busy = None;
                let verb = match status {
                    Some(s) => s.as_str(),
                    None => "deleted",
                };
                let done: Vec<String> = report
                    .sessions
                    .iter()
                    .filter(|c| c.changed)
                    .map(|c| {
                        SessionKey {
                            app: c.app.clone(),
                            id: c.id.clone(),
                        }
                        .short()
                    })
                    .collect();
                for c in &report.sessions {
                    self.marks.remove(&SessionKey {
                        app: c.app.clone(),
                        id: c.id.clone(),
                    });
                }
                let text = match done.as_slice() {
                    [] => format!("already {verb}: nothing written"),
                    [one] => format!("{verb}: {one}"),
                    many => format!("{verb}: {} sessions", many.len()),
                };
                self.set_message(text, false);
                if let Some(m) = &mut self.message {
                    m.unpushed_note = !done.is_empty();
                }
            }
            Update::Pushed(report) => {
                self.busy = None;
                self.set_message(format!("pushed: {report}"), !report.invalid.is_empty());
                self.report_scroll = 0;
                self.mode = Mode::PushReport(report);
            }
            Update::Rescanned { apps } => {
                self.busy = None;
                self.set_message(format!("rescanned: {apps} app folders"), false);
            }
            Update::Failed { what, message } => {
                self.busy = None;
                self.set_message(format!("{what} failed: {message}"), true);
            }
            Update::Events { last, count } => self.last_event = Some((last, count)),
        }
    }

    fn loaded(&mut self, apps: Vec<AppRow>, rows: Arc<Vec<Row>>) {
        // Follow the selected app by name; it may have moved or vanished.
        let folder = self.selected_app().map(|a| a.folder.clone());
        self.apps = apps;
        self.app_cursor = folder
            .and_then(|f| self.apps.iter().position(|a| a.folder == f))
            .map_or(0, |i| i + 1);
        self.query.app = self.selected_app().map(|a| a.folder.clone());
        self.unpushed = rows.iter().filter(|r| r.unpushed.is_some()).count();
        self.widest = Widest::of(&rows);
        if !self.marks.is_empty() {
            // One pass over the rows, whatever the number of marks.
            self.marks = rows
                .iter()
                .filter(|r| !r.is_deleted() && self.marks.contains(&r.key))
                .map(|r| r.key.clone())
                .collect();
        }
        self.rows = rows;
        self.rows_generation += 1;
        if self.busy == Some("reloading…") {
            self.busy = None;
        }
    }
}

/// The display width of the widest device, OS, e-mail and unpushed mark
/// of a load: what those columns would take to show every value whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Widest {
    pub device: usize,
    pub os: usize,
    pub email: usize,
    pub mark: usize,
}

impl Widest {
    fn of(rows: &[Row]) -> Self {
        use unicode_width::UnicodeWidthStr;
        rows.iter().fold(Self::default(), |w, r| Self {
            device: w.device.max(r.device.width()),
            os: w.os.max(r.os.width()),
            email: w.email.max(r.email.width()),
            mark: w.mark.max(
                if r.invalid.is_some() || r.unpushed.is_some() || r.writing {
                    r.mark().width()
                } else {
                    0
                },
            ),
        })
    }
}

/// "status 7023d920 → pending" for the status line.
pub fn describe_event(e: &Event) -> String {
    let what = match (&e.app, &e.id) {
        (_, Some(id)) => id.chars().take(8).collect(),
        (Some(app), None) => app.clone(),
        _ => String::new(),
    };
    let status = match (e.kind, e.status) {
        (EventKind::StatusChanged, Some(s)) => format!(" → {s}"),
        _ => String::new(),
    };
    format!("{} {what}{status}", e.kind.as_str())
        .trim_end()
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ui::model::tests::session_row;
    use crate::ui::view::tests::many_rows;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use mobile_session_proto::Status;

    pub fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    pub fn press(s: &mut State, code: KeyCode) -> Vec<Effect> {
        let fx = s.on_key(key(code));
        s.refresh_view_now();
        fx
    }

    pub fn typed(s: &mut State, text: &str) {
        for c in text.chars() {
            press(s, KeyCode::Char(c));
        }
    }

    pub fn app(folder: &str, sessions: u64, pending: u64) -> AppRow {
        AppRow {
            folder: folder.into(),
            app_id: folder.into(),
            name: Some(folder.to_uppercase()),
            team_id: None,
            sessions,
            pending,
            unreadable: false,
        }
    }

    pub fn sample_rows() -> Vec<Row> {
        let mut v = vec![
            session_row("a.app", "0001", "iPhone X", "iOS", ""),
            session_row("a.app", "0002", "iPad Pro", "ipadOS", "marie@example.com"),
            session_row("b.app", "0003", "Pixel 7", "Android", "li.wei@example.com"),
        ];
        v[1].status = Some(Status::Pending);
        v.into_iter().map(Row::new).collect()
    }

    /// A connected window with the sample rows loaded.
    pub fn state(role: Role) -> State {
        let mut s = State::new();
        s.apply(Update::Connected {
            role,
            version: "0.1.0".into(),
        });
        s.apply(Update::Loaded {
            apps: vec![app("a.app", 2, 1), app("b.app", 1, 0)],
            rows: Arc::new(sample_rows()),
        });
        s.refresh_view_now();
        s
    }

    pub fn shown_ids(s: &State) -> Vec<&str> {
        s.shown
            .order
            .iter()
            .map(|&i| s.shown.rows[i as usize].key.id.as_str())
            .collect()
    }

    pub fn current_id(s: &State) -> &str {
        s.current().map_or("", |r| r.key.id.as_str())
    }

    #[test]
    fn a_reload_keeps_the_cursor_on_its_session_and_app() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Tab);
        press(&mut s, KeyCode::End); // b.app
        press(&mut s, KeyCode::Tab);
        // A new app sorts before b.app; a new b.app session sorts first.
        let mut rows = sample_rows();
        rows.push(Row::new(session_row(
            "b.app",
            "0004",
            "Aaa phone",
            "iOS",
            "",
        )));
        s.apply(Update::Loaded {
            apps: vec![app("0.app", 0, 0), app("a.app", 2, 1), app("b.app", 2, 0)],
            rows: Arc::new(rows),
        });
        s.refresh_view_now();
        assert_eq!(s.selected_app().map(|a| a.folder.as_str()), Some("b.app"));
        assert_eq!(shown_ids(&s), ["0004", "0003"]);
        assert_eq!(current_id(&s), "0003");
        let again = s.wanted_detail().map(|(k, generation)| (k.id, generation));
        assert_eq!(
            again,
            Some(("0003".into(), 2)),
            "the detail is fetched again"
        );
    }

    /// With 100 000 rows a keystroke only records the query: the order is
    /// computed elsewhere and the old one stays on screen meanwhile.
    #[test]
    fn keys_never_compute_the_order_of_many_rows() {
        let mut s = State::new();
        s.apply(Update::Connected {
            role: Role::Admin,
            version: String::new(),
        });
        s.apply(Update::Loaded {
            apps: Vec::new(),
            rows: Arc::new(many_rows(100_000)),
        });
        s.refresh_view_now();
        let before = s.shown.order.clone();
        s.on_key(key(KeyCode::Char('/')));
        for c in "user42".chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
        s.on_key(key(KeyCode::Enter));
        s.on_key(key(KeyCode::Char('I')));
        assert!(s.view_is_stale());
        assert_eq!(
            s.shown.order, before,
            "old order shown until the new one is installed"
        );
        // What the loop does off the input path, then installs.
        let order = crate::ui::view::compute(&s.rows, &s.query);
        s.install_view(s.rows.clone(), s.query.clone(), order);
        assert!(!s.view_is_stale());
        assert_eq!(s.shown.order.len(), 1111);
    }
}
