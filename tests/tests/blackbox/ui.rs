//! `mobile-session ui` in a real terminal: tmux runs the window against a
//! real daemon on a copy of the examples; keys go in with `send-keys`, the
//! screen comes back with `capture-pane`. Every wait polls the screen (or
//! the disk, or `verify`) until a deadline.

use crate::common::*;

use std::process::{Command, Output};
use std::time::Instant;

/// A tmux server of our own, on a socket in a temporary folder of its own
/// (not tmux's shared one), with one window of the given size. Dropping it
/// kills the server and removes the socket and its folder.
pub(crate) struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    pub(crate) fn start(command: &str, width: u16, height: u16) -> Self {
        let t = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let (width, height) = (width.to_string(), height.to_string());
        let out = t.run(&[
            "new-session",
            "-d",
            "-x",
            &width,
            "-y",
            &height,
            "-s",
            "ui",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    pub(crate) fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("tmux.sock")
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            // No user configuration: the same terminal everywhere.
            .arg("-S")
            .arg(self.socket())
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("cannot run tmux (.ci/run installs it)")
    }

    /// Named keys (`Enter`, `Escape`).
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ui"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Characters typed as they are.
    pub(crate) fn type_text(&self, text: &str) {
        assert!(self
            .run(&["send-keys", "-t", "ui", "-l", text])
            .status
            .success());
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "ui"]).stdout).into_owned()
    }

    /// Polls the screen until `cond` holds on a settled screen (two
    /// captures in a row the same), and returns it: a capture taken while
    /// the window is halfway through drawing a frame may show a new title
    /// over rows not drawn yet.
    pub(crate) fn wait_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let screen = self.screen();
            if cond(&screen) && screen == last {
                return screen;
            }
            last = screen.clone();
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting until {what}; the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} is on screen"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The folder (and the socket in it) goes with `dir` right after.
        let _ = self.run(&["kill-server"]);
    }
}

fn verify_code(d: &Daemon, token: &str) -> Option<i32> {
    d.cli(&["verify", token]).status.code()
}

fn file_status(d: &Daemon, app: &str, id: &str) -> String {
    let text = std::fs::read_to_string(d.file(app, id)).unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc["status"].as_str().unwrap_or_default().to_string()
}

/// A new pending session of the Android app, as a sign-in the window did
/// not make writes it (temporary file, then rename).
fn sign_in_behind_the_back(d: &Daemon, id: &str, device: &str) {
    let mut doc = session_json("com.sample.tasks", None, id, "pending");
    doc["device"]["description"] = device.into();
    let folder = d.apps_dir().join(ANDROID);
    let tmp = folder.join(".new-session.tmp");
    std::fs::write(&tmp, doc.to_string()).unwrap();
    std::fs::rename(&tmp, folder.join(id)).unwrap();
}

#[test]
fn the_window_lists_toggles_pushes_follows_reconnects_and_restores_the_terminal() {
    let mut d = Daemon::start();
    let command = format!(
        "'{}' --socket '{}' ui; echo \"ui exited $?\"; exec cat",
        client_bin().display(),
        d.socket.display()
    );
    let tmux = Tmux::start(&command, 120, 32);

    // Apps and sessions of the example tree.
    let screen = tmux.wait_for("3 of 3");
    for text in [
        "Contact",
        IOS,
        "Tasks",
        ANDROID,
        "iPhone X",
        "iPad Pro (11-inch)",
        "Pixel 7",
        "marie.dupont@example.com",
        "pending",
        "0 unpushed",
    ] {
        assert!(screen.contains(text), "{text:?} missing:\n{screen}");
    }
    assert_eq!(
        verify_code(&d, IPAD_TOKEN),
        Some(3),
        "the iPad starts pending"
    );

    // Filter down to the iPad, toggle its status: the file is rewritten.
    tmux.type_text("/a6a3");
    tmux.wait_for("1 of 3");
    tmux.keys(&["Enter"]);
    tmux.type_text("s");
    wait_until("the iPad's file says accepted", || {
        file_status(&d, IOS, IPAD_ID) == "accepted"
    });
    tmux.wait_screen("the change shows unpushed", |s| {
        s.contains("changed") && s.contains("1 unpushed")
    });
    assert_eq!(
        verify_code(&d, IPAD_TOKEN),
        Some(3),
        "not live before a push"
    );

    // Push makes it live, and the report says what it did.
    tmux.type_text("p");
    tmux.wait_for("0 added, 1 updated, 0 removed, 2 unchanged, 0 invalid");
    wait_until("verify answers accepted", || {
        verify_code(&d, IPAD_TOKEN) == Some(0)
    });
    tmux.wait_for("0 unpushed");

    // Close the report, clear the filter.
    tmux.keys(&["Escape"]);
    tmux.wait_screen("the report is closed", |s| !s.contains("Esc closes"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("3 of 3");

    // A device signs in behind the window's back: it appears by itself.
    sign_in_behind_the_back(
        &d,
        "c0ffee0000000000000000000000000000000001",
        "Galaxy Tab S9",
    );
    let screen = tmux.wait_screen("the new session is listed", |s| {
        s.contains("Galaxy Tab S9") && s.contains("4 of 4")
    });
    assert!(screen.contains("new"), "marked new:\n{screen}");

    // The daemon restarts: the window says so, then carries on. It keeps
    // its rows while disconnected, so only a session written after the
    // reconnection shows that it reloads and follows events again.
    d.stop();
    tmux.wait_for("daemon gone, reconnecting");
    d.spawn(&Opts::default());
    tmux.wait_for("reconnected to mobile-sessiond");
    sign_in_behind_the_back(&d, "c0ffee0000000000000000000000000000000002", "Pixel Fold");
    tmux.wait_screen("the session written after the restart is listed", |s| {
        s.contains("Pixel Fold") && s.contains("5 of 5")
    });

    // q leaves the alternate screen and gives the terminal back.
    tmux.type_text("q");
    let screen = tmux.wait_for("ui exited 0");
    assert!(!screen.contains("Sessions ·"), "window gone:\n{screen}");
    let alternate = tmux.run(&["display-message", "-p", "-t", "ui", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alternate.stdout).trim(), "0");
}

#[test]
fn without_a_daemon_the_window_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "'{}' --socket '{}' ui; echo \"ui exited $?\"; exec cat",
        client_bin().display(),
        dir.path().join("nobody.sock").display()
    );
    let tmux = Tmux::start(&command, 80, 24);
    let screen = tmux.wait_for("ui exited 69");
    assert!(
        screen.contains("error: cannot reach mobile-sessiond"),
        "{screen}"
    );
}

/// Line `n` of a screen capture.
fn line(screen: &str, n: usize) -> &str {
    screen.lines().nth(n).unwrap_or_default()
}

#[test]
fn at_80_by_24_the_window_keeps_its_columns_keys_and_marks() {
    let d = Daemon::start();
    let command = format!(
        "'{}' --socket '{}' ui; echo \"ui exited $?\"; exec cat",
        client_bin().display(),
        d.socket.display()
    );
    let tmux = Tmux::start(&command, 80, 24);
    // A whole frame: the last row, the last footer line.
    let screen = tmux.wait_screen("the sessions and the footer are drawn", |s| {
        s.contains("3 of 3") && s.contains("Pixel 7") && line(s, 23).contains("move")
    });
    // The Id column, shortened; every value cut to its column ends with …
    assert!(screen.contains(" Id "), "no Id column:\n{screen}");
    assert!(screen.contains("7023d920"), "no shortened id:\n{screen}");
    let ipad = screen
        .lines()
        .find(|l| l.contains("iPad"))
        .unwrap_or_else(|| panic!("no iPad row:\n{screen}"));
    for value in [
        "iPad Pro (11-inch)",
        "marie.dupont@example.com",
        IPAD_ID,
        "ipadOS 17.4",
    ] {
        let cut = (3..value.len()).any(|n| ipad.contains(&format!("{}…", &value[..n])));
        assert!(
            ipad.contains(value) || cut,
            "{value:?} cut without …:\n{screen}"
        );
    }
    // The footer: the count and every key, ? help among them.
    let footer = format!("{}\n{}", line(&screen, 22), line(&screen, 23));
    for key in [
        "0 unpushed",
        "? help",
        "/ filter",
        "Tab apps",
        "o reveal",
        "r refresh",
    ] {
        assert!(footer.contains(key), "{key:?} not in the footer:\n{screen}");
    }

    // Space marks the iPad (first by device) and moves on to the iPhone;
    // s acts on the mark, not on the row the cursor moved to.
    tmux.type_text(" ");
    tmux.wait_for("1 marked");
    tmux.type_text("s");
    wait_until("the iPad's file says accepted", || {
        file_status(&d, IOS, IPAD_ID) == "accepted"
    });
    assert_eq!(
        file_status(&d, IOS, SEED_ID),
        "accepted",
        "the iPhone untouched"
    );
    // The status line and the footer agree that it is not live yet.
    let screen = tmux.wait_screen("the change shows unpushed in both", |s| {
        line(s, 21).contains("not live yet") && s.contains("1 unpushed")
    });
    assert!(line(&screen, 21).contains("accepted: "), "{screen}");

    // o shows the iPhone's path: cut with …, never run into the event.
    tmux.type_text("o");
    let screen = tmux.wait_screen("the path is on the status line", |s| {
        line(s, 21).contains("/MobileApps/")
    });
    let status = line(&screen, 21).trim_end();
    assert!(status.ends_with('…'), "{screen}");
    assert!(
        !status.contains("Z status"),
        "the event runs into the path:\n{screen}"
    );

    tmux.type_text("q");
    tmux.wait_for("ui exited 0");
}

#[test]
fn the_tmux_server_and_its_socket_go_with_the_test() {
    let tmux = Tmux::start("exec cat", 80, 24);
    let (socket, dir) = (tmux.socket(), tmux.dir.path().to_path_buf());
    assert!(socket.exists(), "tmux listens at {}", socket.display());
    drop(tmux);
    assert!(
        !socket.exists() && !dir.exists(),
        "{} left behind",
        dir.display()
    );
}
