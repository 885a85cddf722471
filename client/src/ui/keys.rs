//! What each key does to the window's [`State`]: moves, modes, marks, and
//! the writes it asks the daemon for (as [`Effect`]s). The data the keys
//! act on is `state.rs`'s.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mobile_session_proto::Status;

use super::io::Command;
use super::model::{Row, SessionKey};
use super::state::{Effect, Focus, Link, Mode, State};

const NOT_ADMIN: &str =
    "read-only: this connection is a reader (join the daemon's admin group to make changes)";

impl State {
    fn navigate(&mut self, key: KeyCode) -> bool {
        let (pos, len, page) = match self.focus {
            Focus::Apps => (self.app_cursor, self.apps.len() + 1, 5),
            Focus::Sessions => (self.cursor, self.shown.order.len(), self.page),
        };
        let to = match key {
            KeyCode::Up | KeyCode::Char('k') => pos.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => pos + 1,
            KeyCode::PageUp => pos.saturating_sub(page),
            KeyCode::PageDown => pos + page,
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => len.saturating_sub(1),
            _ => return false,
        };
        match self.focus {
            Focus::Apps => self.move_app(to),
            Focus::Sessions => self.move_cursor(to),
        }
        true
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return vec![Effect::Quit];
        }
        if ctrl && key.code == KeyCode::Char('l') {
            return vec![Effect::Repaint];
        }
        match self.mode.clone() {
            Mode::Help => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Mode::PushReport(_) => {
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.report_scroll = self.report_scroll.saturating_sub(1)
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.report_scroll = self.report_scroll.saturating_add(1)
                    }
                    _ => self.mode = Mode::Normal,
                }
                Vec::new()
            }
            Mode::Detail => {
                self.scroll_detail(key.code, true);
                Vec::new()
            }
            Mode::ConfirmDelete(keys) => {
                self.mode = Mode::Normal;
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.busy = Some("deleting…");
                    vec![Effect::Send(Command::Delete { keys })]
                } else {
                    self.set_message("delete cancelled", false);
                    Vec::new()
                }
            }
            Mode::Filter => {
                self.filter_key(key, ctrl);
                Vec::new()
            }
            Mode::Normal => self.normal_key(key),
        }
    }

    fn scroll_detail(&mut self, key: KeyCode, zoomed: bool) {
        let page = self.page.max(1) as u16;
        match key {
            KeyCode::Up | KeyCode::Char('k') | KeyCode::Char('K') => {
                self.detail_scroll = self.detail_scroll.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Char('J') => {
                self.detail_scroll = self.detail_scroll.saturating_add(1)
            }
            KeyCode::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(page),
            KeyCode::PageDown => self.detail_scroll = self.detail_scroll.saturating_add(page),
            KeyCode::Home | KeyCode::Char('g') => self.detail_scroll = 0,
            _ if zoomed => self.mode = Mode::Normal,
            _ => {}
        }
    }

    fn filter_key(&mut self, key: KeyEvent, ctrl: bool) {
        match key.code {
            KeyCode::Esc => {
                self.filter_input.clear();
                self.query.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => {
                // Keep the filter and start at its first match.
                self.mode = Mode::Normal;
                self.focus = Focus::Sessions;
                self.cursor = 0;
                self.offset = 0;
                // With the order still being computed, the first row is
                // picked when it is installed.
                self.selected = if self.view_is_stale() {
                    None
                } else {
                    self.current().map(|r| r.key.clone())
                };
            }
            KeyCode::Backspace => {
                self.filter_input.pop();
                self.query.filter = self.filter_input.to_lowercase();
            }
            KeyCode::Char('u') if ctrl => {
                self.filter_input.clear();
                self.query.filter.clear();
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.filter_input.push(c);
                self.query.filter = self.filter_input.to_lowercase();
            }
            _ => {}
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        // Ctrl-S is not s: a chord never writes by accident.
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return Vec::new();
        }
        if self.navigate(key.code) {
            return Vec::new();
        }
        match key.code {
            KeyCode::Char('q') => return vec![Effect::Quit],
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Apps => Focus::Sessions,
                    Focus::Sessions => Focus::Apps,
                }
            }
            KeyCode::Left | KeyCode::Char('h') => self.focus = Focus::Apps,
            KeyCode::Right | KeyCode::Char('l') => self.focus = Focus::Sessions,
            KeyCode::Enter => match self.focus {
                Focus::Apps => self.focus = Focus::Sessions,
                Focus::Sessions if self.current().is_some() => {
                    self.detail_scroll = 0;
                    self.mode = Mode::Detail;
                }
                Focus::Sessions => {}
            },
            KeyCode::Char('J') | KeyCode::Char('K') => self.scroll_detail(key.code, false),
            KeyCode::Char('/') => {
                self.mode = Mode::Filter;
                self.focus = Focus::Sessions;
            }
            KeyCode::Esc => {
                if !self.query.filter.is_empty() {
                    self.filter_input.clear();
                    self.query.filter.clear();
                } else if !self.marks.is_empty() {
                    self.marks.clear();
                    self.set_message("marks cleared", false);
                }
            }
            KeyCode::Char('>') | KeyCode::Char('.') => self.query.sort = self.query.sort.next(),
            KeyCode::Char('<') | KeyCode::Char(',') => self.query.sort = self.query.sort.previous(),
            KeyCode::Char('I') => self.query.direction = self.query.direction.flipped(),
            KeyCode::Char('o') => return self.reveal(),
            KeyCode::Char('r') => return self.refresh(),
            KeyCode::Char('s') => return self.toggle_status(),
            KeyCode::Char(' ') => self.toggle_mark(),
            KeyCode::Char('a') => return self.accept_marked(),
            KeyCode::Char('d') => self.ask_delete(),
            KeyCode::Char('p') => return self.push(),
            _ => {}
        }
        Vec::new()
    }

    /// Checks that a write may be attempted, saying why not in the status line.
    fn may_write(&mut self) -> bool {
        if self.link != Link::Connected {
            self.set_message(
                "not connected to mobile-sessiond: wait for it to come back",
                true,
            );
            return false;
        }
        if !self.is_admin() {
            self.set_message(NOT_ADMIN, true);
            return false;
        }
        true
    }

    fn reveal(&mut self) -> Vec<Effect> {
        let Some(row) = self.current() else {
            return Vec::new();
        };
        if row.is_deleted() {
            let text = format!("{} was deleted (push to apply)", row.path);
            self.set_message(text, false);
            return Vec::new();
        }
        vec![Effect::Reveal(row.path.clone())]
    }

    fn refresh(&mut self) -> Vec<Effect> {
        if self.link != Link::Connected {
            self.set_message(
                "not connected to mobile-sessiond: wait for it to come back",
                true,
            );
            return Vec::new();
        }
        if self.is_admin() {
            self.busy = Some("rescanning…");
            vec![Effect::Send(Command::Rescan)]
        } else {
            // A rescan writes the daemon's view: readers only re-read it.
            self.busy = Some("reloading…");
            vec![Effect::Send(Command::Reload)]
        }
    }

    /// `s`, on the marked sessions or else the selected one: one session
    /// flips between accepted and pending; marked ones all become pending
    /// when every one is accepted, else all accepted (as a mail client marks
    /// a mixed selection read).
    fn toggle_status(&mut self) -> Vec<Effect> {
        if !self.may_write() {
            return Vec::new();
        }
        let rows: Vec<&Row> = if self.marks.is_empty() {
            self.current().into_iter().collect()
        } else {
            self.rows
                .iter()
                .filter(|r| self.marks.contains(&r.key))
                .collect()
        };
        let unchangeable = rows.iter().find_map(|r| match r.status {
            _ if r.is_deleted() => {
                Some(format!("{} was deleted: nothing to change", r.key.short()))
            }
            Some(_) if r.invalid.is_none() => None,
            _ => Some(format!(
                "{} is invalid: fix or delete the file",
                r.key.short()
            )),
        });
        if let Some(text) = unchangeable {
            self.set_message(text, true);
            return Vec::new();
        }
        if rows.is_empty() {
            return Vec::new();
        }
        let status = match rows.iter().all(|r| r.status == Some(Status::Accepted)) {
            true => Status::Pending,
            false => Status::Accepted,
        };
        let keys = self.targets();
        self.busy = Some("writing…");
        vec![Effect::Send(Command::SetStatus { status, keys })]
    }

    fn toggle_mark(&mut self) {
        if !self.is_admin() {
            self.set_message(NOT_ADMIN, true);
            return;
        }
        let Some(key) = self.current().map(|r| r.key.clone()) else {
            return;
        };
        if !self.marks.remove(&key) {
            self.marks.insert(key);
        }
        // htop's habit: Space marks and moves on.
        self.move_cursor(self.cursor + 1);
    }

    /// The marked sessions, or the selected one when none is marked.
    fn targets(&self) -> Vec<SessionKey> {
        if self.marks.is_empty() {
            return self.current().map(|r| r.key.clone()).into_iter().collect();
        }
        let mut keys: Vec<SessionKey> = self.marks.iter().cloned().collect();
        keys.sort_by(|a, b| (&a.app, &a.id).cmp(&(&b.app, &b.id)));
        keys
    }

    fn accept_marked(&mut self) -> Vec<Effect> {
        if !self.may_write() {
            return Vec::new();
        }
        let keys = self.targets();
        if keys.is_empty() {
            return Vec::new();
        }
        self.busy = Some("writing…");
        vec![Effect::Send(Command::SetStatus {
            status: Status::Accepted,
            keys,
        })]
    }

    fn ask_delete(&mut self) {
        if !self.may_write() {
            return;
        }
        let keys = self.targets();
        if !keys.is_empty() {
            self.mode = Mode::ConfirmDelete(keys);
        }
    }

    fn push(&mut self) -> Vec<Effect> {
        if !self.may_write() {
            return Vec::new();
        }
        self.busy = Some("pushing…");
        vec![Effect::Send(Command::Push)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::io::Update;
    use crate::ui::model::tests::session_row;
    use crate::ui::model::Row;
    use crate::ui::state::tests::*;
    use crate::ui::view::{Column, Direction};
    use mobile_session_proto::{
        ChangeReport, ChangedSession, InvalidFile, PushReport, Role, Unpushed,
    };
    use std::sync::Arc;

    #[test]
    fn moves_and_clamps_with_arrows_vi_keys_pages_and_ends() {
        let mut s = state(Role::Admin);
        assert_eq!(shown_ids(&s), ["0002", "0001", "0003"]); // by device
        assert_eq!(current_id(&s), "0002");
        press(&mut s, KeyCode::Up);
        assert_eq!(current_id(&s), "0002", "stays on the first row");
        press(&mut s, KeyCode::Char('j'));
        press(&mut s, KeyCode::Down);
        press(&mut s, KeyCode::Down);
        assert_eq!(current_id(&s), "0003", "stays on the last row");
        press(&mut s, KeyCode::Char('k'));
        assert_eq!(current_id(&s), "0001");
        press(&mut s, KeyCode::Home);
        assert_eq!(s.cursor, 0);
        press(&mut s, KeyCode::End);
        assert_eq!(s.cursor, 2);
        s.page = 2;
        press(&mut s, KeyCode::PageUp);
        assert_eq!(s.cursor, 0);
        press(&mut s, KeyCode::PageDown);
        assert_eq!(s.cursor, 2);
    }

    #[test]
    fn tab_switches_to_the_apps_which_limit_the_table() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Tab);
        assert_eq!(s.focus, Focus::Apps);
        press(&mut s, KeyCode::Down);
        assert_eq!(s.selected_app().map(|a| a.folder.as_str()), Some("a.app"));
        assert_eq!(shown_ids(&s), ["0002", "0001"]);
        press(&mut s, KeyCode::Down);
        assert_eq!(shown_ids(&s), ["0003"]);
        assert_eq!(current_id(&s), "0003", "the cursor lands on a shown row");
        press(&mut s, KeyCode::Home);
        assert_eq!(s.selected_app(), None, "first entry is all apps");
        assert_eq!(shown_ids(&s).len(), 3);
        press(&mut s, KeyCode::Tab);
        assert_eq!(s.focus, Focus::Sessions);
    }

    #[test]
    fn sort_key_cycles_columns_and_i_inverts() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Char('>'));
        assert_eq!(s.query.sort, Column::Status);
        assert_eq!(shown_ids(&s), ["0002", "0001", "0003"]);
        press(&mut s, KeyCode::Char('I'));
        assert_eq!(s.query.direction, Direction::Descending);
        assert_eq!(shown_ids(&s), ["0001", "0003", "0002"]);
        assert_eq!(current_id(&s), "0002", "the cursor follows its session");
        press(&mut s, KeyCode::Char('<'));
        assert_eq!(s.query.sort, Column::Device);
    }

    #[test]
    fn filter_live_enter_keeps_and_selects_first_esc_clears() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::End);
        press(&mut s, KeyCode::Char('/'));
        assert_eq!(s.mode, Mode::Filter);
        typed(&mut s, "EXAMPLE");
        assert_eq!(s.query.filter, "example", "case-insensitive");
        assert_eq!(shown_ids(&s), ["0002", "0003"]);
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(current_id(&s), "0002", "first match selected");
        assert_eq!(s.filter_input, "EXAMPLE", "filter kept");
        // By id, and by device.
        press(&mut s, KeyCode::Char('/'));
        for _ in 0..7 {
            press(&mut s, KeyCode::Backspace);
        }
        typed(&mut s, "0003");
        assert_eq!(shown_ids(&s), ["0003"]);
        press(&mut s, KeyCode::Esc);
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(shown_ids(&s).len(), 3, "Esc clears the filter");
        press(&mut s, KeyCode::Char('/'));
        typed(&mut s, "pixel");
        press(&mut s, KeyCode::Enter);
        assert_eq!(shown_ids(&s), ["0003"]);
        press(&mut s, KeyCode::Esc);
        assert_eq!(
            shown_ids(&s).len(),
            3,
            "Esc in the table clears a kept filter"
        );
    }

    #[test]
    fn typing_in_the_filter_never_triggers_commands() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Char('/'));
        for c in "sdpqaro ".chars() {
            assert!(s.on_key(key(KeyCode::Char(c))).is_empty(), "{c}");
        }
        assert_eq!(s.filter_input, "sdpqaro ");
    }

    #[test]
    fn s_toggles_the_selected_status_both_ways() {
        let mut s = state(Role::Admin);
        let pending = current_id(&s).to_string();
        assert_eq!(
            press(&mut s, KeyCode::Char('s')),
            [Effect::Send(Command::SetStatus {
                status: Status::Accepted,
                keys: vec![SessionKey {
                    app: "a.app".into(),
                    id: pending
                }],
            })]
        );
        press(&mut s, KeyCode::Down);
        assert!(matches!(
            press(&mut s, KeyCode::Char('s')).as_slice(),
            [Effect::Send(Command::SetStatus {
                status: Status::Pending,
                ..
            })]
        ));
    }

    #[test]
    fn s_acts_on_the_marked_rows_not_the_one_space_moved_to() {
        let mut s = state(Role::Admin);
        // Mark 0002 (pending) and 0001 (accepted); the cursor ends on 0003.
        press(&mut s, KeyCode::Char(' '));
        press(&mut s, KeyCode::Char(' '));
        assert_eq!(current_id(&s), "0003");
        // A mixed set is accepted, every one of it, and 0003 is left alone.
        let fx = press(&mut s, KeyCode::Char('s'));
        let [Effect::Send(Command::SetStatus { status, keys })] = fx.as_slice() else {
            panic!("{fx:?}");
        };
        assert_eq!(*status, Status::Accepted);
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["0001", "0002"]);
        // Marked sessions that are all accepted become pending.
        s.marks.clear();
        press(&mut s, KeyCode::Home);
        press(&mut s, KeyCode::Down);
        press(&mut s, KeyCode::Char(' '));
        press(&mut s, KeyCode::Char(' '));
        let fx = press(&mut s, KeyCode::Char('s'));
        assert!(
            matches!(fx.as_slice(), [Effect::Send(Command::SetStatus { status: Status::Pending, keys })] if keys.len() == 2),
            "{fx:?}"
        );
    }

    #[test]
    fn space_marks_and_a_accepts_the_marked_ones_at_once() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Char(' '));
        assert_eq!(s.cursor, 1, "space moves down");
        press(&mut s, KeyCode::Down);
        press(&mut s, KeyCode::Char(' '));
        assert_eq!(s.marks.len(), 2);
        let fx = press(&mut s, KeyCode::Char('a'));
        let [Effect::Send(Command::SetStatus { status, keys })] = fx.as_slice() else {
            panic!("{fx:?}");
        };
        assert_eq!(*status, Status::Accepted);
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["0002", "0003"]);
        // The answer clears their marks.
        s.apply(Update::Changed {
            status: Some(Status::Accepted),
            report: ChangeReport {
                sessions: keys
                    .iter()
                    .map(|k| ChangedSession {
                        app: k.app.clone(),
                        id: k.id.clone(),
                        path: String::new(),
                        status: Some(Status::Accepted),
                        changed: true,
                    })
                    .collect(),
                push: None,
            },
        });
        assert!(s.marks.is_empty());
        assert!(s
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("2 sessions")));
        // Space again unmarks.
        press(&mut s, KeyCode::Home);
        press(&mut s, KeyCode::Char(' '));
        press(&mut s, KeyCode::Home);
        press(&mut s, KeyCode::Char(' '));
        assert!(s.marks.is_empty());
    }

    #[test]
    fn d_asks_and_only_y_deletes() {
        let mut s = state(Role::Admin);
        assert!(press(&mut s, KeyCode::Char('d')).is_empty());
        assert!(matches!(&s.mode, Mode::ConfirmDelete(k) if k.len() == 1));
        assert!(press(&mut s, KeyCode::Char('n')).is_empty());
        assert_eq!(s.mode, Mode::Normal);
        press(&mut s, KeyCode::Char('d'));
        let fx = press(&mut s, KeyCode::Char('y'));
        assert!(
            matches!(fx.as_slice(), [Effect::Send(Command::Delete { keys })] if keys[0].id == "0002"),
            "{fx:?}"
        );
    }

    #[test]
    fn p_pushes_and_the_report_lists_invalid_files() {
        let mut s = state(Role::Admin);
        assert_eq!(
            press(&mut s, KeyCode::Char('p')),
            [Effect::Send(Command::Push)]
        );
        assert_eq!(s.busy, Some("pushing…"));
        let report = PushReport {
            added: 1,
            updated: 2,
            removed: 0,
            unchanged: 3,
            invalid: vec![InvalidFile {
                path: "/d/MobileApps/a.app/dead".into(),
                code: 2,
                error: "not JSON".into(),
            }],
            writing: vec![],
        };
        s.apply(Update::Pushed(report.clone()));
        assert_eq!(s.busy, None);
        assert_eq!(s.mode, Mode::PushReport(report));
        let m = s.message.clone().unwrap();
        assert!(m.error && m.text.contains("1 added, 2 updated"), "{m:?}");
        press(&mut s, KeyCode::Esc);
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn a_reader_gets_no_write_and_is_told_why() {
        let mut s = state(Role::Reader);
        for c in ['s', 'a', 'd', 'p', ' '] {
            assert!(press(&mut s, KeyCode::Char(c)).is_empty(), "{c}");
            assert!(s
                .message
                .as_ref()
                .is_some_and(|m| m.error && m.text.contains("read-only")));
            assert_eq!(s.mode, Mode::Normal);
        }
        assert!(s.marks.is_empty());
        // r re-reads instead of rescanning; reading keys still work.
        assert_eq!(
            press(&mut s, KeyCode::Char('r')),
            [Effect::Send(Command::Reload)]
        );
        assert!(
            matches!(press(&mut s, KeyCode::Char('o')).as_slice(), [Effect::Reveal(p)] if p.ends_with("0002"))
        );
        press(&mut s, KeyCode::Char('?'));
        assert_eq!(s.mode, Mode::Help);
    }

    #[test]
    fn writes_wait_for_the_daemon_to_come_back() {
        let mut s = state(Role::Admin);
        s.apply(Update::Gone {
            reason: "the daemon closed the connection".into(),
        });
        assert!(press(&mut s, KeyCode::Char('p')).is_empty());
        assert!(s
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("not connected")));
        assert_eq!(press(&mut s, KeyCode::Char('q')), [Effect::Quit]);
    }

    #[test]
    fn invalid_and_deleted_rows_refuse_a_status_change() {
        let mut s = State::new();
        s.apply(Update::Connected {
            role: Role::Admin,
            version: String::new(),
        });
        let mut bad = session_row("a.app", "dead", "", "", "");
        bad.status = None;
        bad.invalid = Some(mobile_session_proto::Invalidity {
            code: 2,
            error: "not JSON".into(),
        });
        let mut gone = session_row("a.app", "beef", "zz", "", "");
        gone.unpushed = Some(Unpushed::Deleted);
        s.apply(Update::Loaded {
            apps: vec![app("a.app", 0, 0)],
            rows: Arc::new(vec![Row::new(bad), Row::new(gone)]),
        });
        s.refresh_view_now();
        assert_eq!(current_id(&s), "beef", "blank device sorts last");
        assert!(press(&mut s, KeyCode::Char('s')).is_empty());
        assert!(s
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("deleted")));
        assert!(
            press(&mut s, KeyCode::Char('o')).is_empty(),
            "no file to reveal"
        );
        press(&mut s, KeyCode::Down);
        assert!(press(&mut s, KeyCode::Char('s')).is_empty());
        assert!(s
            .message
            .as_ref()
            .is_some_and(|m| m.text.contains("invalid")));
        assert_eq!(s.unpushed, 1);
    }

    #[test]
    fn detail_mode_scrolls_and_any_other_key_closes() {
        let mut s = state(Role::Admin);
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.mode, Mode::Detail);
        press(&mut s, KeyCode::Down);
        press(&mut s, KeyCode::Char('j'));
        assert_eq!(s.detail_scroll, 2);
        assert_eq!(s.cursor, 0, "the table does not move under the detail");
        press(&mut s, KeyCode::Esc);
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn ctrl_c_quits_from_any_mode_and_chords_never_write() {
        let mut s = state(Role::Admin);
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        for c in ['s', 'd', 'p', 'a', 'q'] {
            assert!(s.on_key(ctrl(c)).is_empty(), "Ctrl-{c}");
        }
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(s.on_key(ctrl('l')), [Effect::Repaint]);
        press(&mut s, KeyCode::Char('/'));
        assert_eq!(s.on_key(ctrl('c')), [Effect::Quit]);
    }
}
