//! When inotify cannot add a watch (the per-user limit), the daemon says so
//! in its log and `status`, falls back to polling, and misses nothing.
//!
//! This lowers the system-wide `fs.inotify.max_user_watches` for a moment,
//! so it lives in its own test binary (cargo runs binaries one at a time)
//! and restores the value even if it fails.

mod common;
use common::*;

const LIMIT: &str = "/proc/sys/fs/inotify/max_user_watches";

struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write(LIMIT, &self.0);
    }
}

#[test]
fn watch_limit_falls_back_to_polling() {
    let d = Daemon::start_with(Opts {
        config: Some("poll_interval_ms = 50\n".into()),
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["watcher"], "inotify");
    let Ok(before) = std::fs::read_to_string(LIMIT) else {
        eprintln!("skipped: {LIMIT} is not readable here");
        return;
    };
    if std::fs::write(LIMIT, "1").is_err() {
        eprintln!("skipped: {LIMIT} is not writable here (needs root)");
        return;
    }
    let restore = Restore(before);
    // A new app folder needs a new watch, which the kernel now refuses.
    let folder = "LIMITTEAM1.com.limit.app";
    std::fs::create_dir(d.apps_dir().join(folder)).unwrap();
    wait_until("the daemon switches to polling", || {
        d.json(&["status"])["watcher"]
            .as_str()
            .unwrap()
            .starts_with("poll")
    });
    drop(restore);
    let status = d.json(&["status"]);
    assert!(
        status["watcher"].as_str().unwrap().contains("limit"),
        "{status}"
    );
    assert!(
        d.log_text().contains("falling back to polling"),
        "{}",
        d.log_text()
    );
    // Polling sees new files, in the new folder too.
    let id = "1111222233334444555566667777888899990000";
    let doc = session_json("com.limit.app", Some("LIMITTEAM1"), id, "accepted");
    std::fs::write(d.file(folder, id), doc.to_string()).unwrap();
    wait_until("the file shows up through polling", || {
        d.json(&["sessions", folder]).as_array().unwrap().len() == 1
    });
    // And a push still sees a file written just before it.
    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    assert_eq!(d.json(&["push"])["removed"], 1);
}
