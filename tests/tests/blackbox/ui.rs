//! `mobile-session ui` in a real terminal: tmux runs the window against a
//! real daemon on a copy of the examples; keys go in with `send-keys`, the
//! screen comes back with `capture-pane`. Every wait polls the screen (or
//! the disk, or `verify`) until a deadline.

use crate::common::*;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// A tmux server of our own (private socket), one 120×32 window.
struct Tmux {
    server: String,
}

impl Tmux {
    fn start(command: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let server = format!(
            "mobile-session-ui-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let t = Self { server };
        let out = t.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "32",
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            // No user configuration: the same terminal everywhere.
            .args(["-L", &self.server, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("cannot run tmux (.ci/run installs it)")
    }

    /// Named keys (`Enter`, `Escape`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ui"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Characters typed as they are.
    fn type_text(&self, text: &str) {
        assert!(self
            .run(&["send-keys", "-t", "ui", "-l", text])
            .status
            .success());
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "ui"]).stdout).into_owned()
    }

    /// Polls the screen until `cond` holds on a settled screen (two
    /// captures in a row the same), and returns it: a capture taken while
    /// the window is halfway through drawing a frame may show a new title
    /// over rows not drawn yet.
    fn wait_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
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

    fn wait_for(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} is on screen"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
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
    let tmux = Tmux::start(&command);

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
    tmux.wait_for("0 added · 1 updated · 0 removed · 2 unchanged");
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
    let tmux = Tmux::start(&command);
    let screen = tmux.wait_for("ui exited 69");
    assert!(
        screen.contains("error: cannot reach mobile-sessiond"),
        "{screen}"
    );
}
