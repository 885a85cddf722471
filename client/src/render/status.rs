//! `status`.

use std::fmt::Write as _;
use std::time::Duration;

use mobile_session::DaemonStatus;
use serde_json::json;

use super::{printable, Paint, View};

/// `socket` is the path this client used: the one in use, whatever the
/// daemon believes it bound; on `host` when the daemon is on another host.
pub fn status(s: &DaemonStatus, socket: &str, host: Option<&str>, view: &View) -> String {
    if view.json {
        let mut v = json!({
            "version": s.version,
            "protocol": s.protocol,
            "pid": s.pid,
            "uptime": s.uptime_secs,
            "data_dir": s.data_dir,
            "socket": socket,
            "live": s.live,
            "on_disk": s.on_disk,
            "unpushed": s.unpushed,
            "invalid": s.invalid,
            "watcher": s.watcher,
            "rescans": s.rescans,
            "auto_push": s.auto_push,
            "connections": s.connections,
            "watchers": s.watchers,
            "max_connections": s.max_connections,
            "read_errors": s.read_errors,
            "unreadable_folders": s.unreadable_folders,
            "writing": s.writing,
        });
        if s.socket != socket {
            v["daemon_socket"] = json!(s.socket);
        }
        if let Some(host) = host {
            v["host"] = json!(host);
        }
        return format!("{v}\n");
    }
    if view.quiet {
        return String::new();
    }
    let uptime = humantime::format_duration(Duration::from_secs(s.uptime_secs));
    let mut out = format!(
        "mobile-sessiond {} (protocol {}), pid {}, up {uptime}\n",
        s.version, s.protocol, s.pid
    );
    let _ = writeln!(out, "data dir:    {}", printable(&s.data_dir));
    let _ = write!(out, "socket:      {}", printable(socket));
    if let Some(host) = host {
        let _ = write!(out, " on {}", printable(host));
    }
    if s.socket != socket {
        let _ = write!(out, " (the daemon reports {})", printable(&s.socket));
    }
    out.push('\n');
    let invalid = format!("{} invalid", s.invalid);
    let invalid = if s.invalid > 0 {
        view.paint(&invalid, Paint::Red)
    } else {
        invalid
    };
    let writing = match s.writing {
        0 => String::new(),
        n => format!(", {n} being written"),
    };
    let _ = writeln!(
        out,
        "sessions:    {} live, {} on disk, {} unpushed, {invalid}{writing}",
        s.live, s.on_disk, s.unpushed
    );
    let _ = writeln!(
        out,
        "watcher:     {} ({} rescans)",
        printable(&s.watcher),
        s.rescans
    );
    let _ = writeln!(
        out,
        "auto-push:   {}",
        if s.auto_push { "on" } else { "off" }
    );
    let max = match s.max_connections {
        0 => String::new(),
        m => format!(", at most {m}"),
    };
    let _ = writeln!(
        out,
        "connections: {} ({} watching{max})",
        s.connections, s.watchers
    );
    if s.read_errors > 0 {
        let _ = writeln!(
            out,
            "read errors: {}",
            view.paint(&s.read_errors.to_string(), Paint::Yellow)
        );
    }
    if !s.unreadable_folders.is_empty() {
        let list = printable(&s.unreadable_folders.join(", "));
        let _ = writeln!(out, "unreadable:  {}", view.paint(&list, Paint::Red));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn status_uses_one_word_for_connections() {
        let s = DaemonStatus {
            version: "1".into(),
            protocol: 2,
            pid: 1,
            uptime_secs: 3725,
            data_dir: "/d".into(),
            socket: "/s".into(),
            live: 1,
            on_disk: 1,
            unpushed: 0,
            invalid: 0,
            watcher: "inotify".into(),
            rescans: 0,
            auto_push: false,
            connections: 3,
            watchers: 1,
            max_connections: 64,
            read_errors: 0,
            unreadable_folders: vec![],
            writing: 0,
        };
        let human = status(&s, "/s", None, &View::default());
        assert!(human.contains("up 1h 2m 5s"), "{human}");
        assert!(
            human.contains("connections: 3 (1 watching, at most 64)"),
            "{human}"
        );
        let v: Value = serde_json::from_str(&status(
            &s,
            "/s",
            None,
            &View {
                json: true,
                ..View::default()
            },
        ))
        .unwrap();
        assert_eq!(v["connections"], 3);
        assert!(v.get("daemon_socket").is_none());
        assert!(v.get("host").is_none());
        let json = View {
            json: true,
            ..View::default()
        };
        let v: Value = serde_json::from_str(&status(&s, "/s", Some("ssh://h"), &json)).unwrap();
        assert_eq!(v["host"], "ssh://h");
        let human = status(&s, "/s", Some("ssh://h"), &View::default());
        assert!(human.contains("socket:      /s on ssh://h\n"), "{human}");
    }
}
