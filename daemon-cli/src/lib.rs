//! The command line of `mobile-sessiond`, and nothing else.
//!
//! It lives in its own small crate so that two programs can share it without
//! depending on each other: the daemon parses its arguments with [`Args`],
//! and the client's `mobile-session man` renders `mobile-sessiond(8)` from
//! [`command`] without pulling in the daemon.
//!
//! # Where the daemon takes its settings
//!
//! - **config file**: `--config FILE`, else `$MOBILE_SESSIOND_CONFIG`, else
//!   [`DEFAULT_CONFIG`] (`/etc/mobile-sessiond/config.toml`) when that file
//!   exists, else none (built-in defaults). [`Args::config_file`] applies
//!   this order.
//! - **data dir**: `--data-dir DIR`, else `$MOBILE_SESSIOND_DATA_DIR`, else
//!   `data_dir` in the config file, else `$XDG_DATA_HOME/mobile-sessiond`
//!   (or `~/.local/share/mobile-sessiond`). Sessions live in
//!   `DIR/MobileApps`. Under systemd the unit passes no `--data-dir`: the
//!   config file is the one place an administrator edits.
//! - **socket**: `--socket PATH`, else `$MOBILE_SESSION_SOCKET`, else
//!   `$XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock`, else
//!   `/run/mobile-sessiond/mobile-sessiond.sock` for root and
//!   `/tmp/mobile-sessiond-UID/mobile-sessiond.sock` otherwise; a socket
//!   handed over by the service manager (`LISTEN_FDS`) wins over all of them.
//! - **state dir** (last seen, blocked devices, history): `--state-dir DIR`,
//!   else `state_dir` in the config file, else `$STATE_DIRECTORY` (systemd's
//!   `StateDirectory=`), else one folder per data dir under
//!   `$XDG_STATE_HOME/mobile-sessiond` (or `~/.local/state/mobile-sessiond`),
//!   else `/var/lib/mobile-sessiond`. Never inside `MobileApps`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};

/// The config file read when neither `--config` nor
/// `$MOBILE_SESSIOND_CONFIG` names one (only if it exists).
pub const DEFAULT_CONFIG: &str = "/etc/mobile-sessiond/config.toml";

/// Names the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "MOBILE_SESSIOND_CONFIG";

/// Names the data dir when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "MOBILE_SESSIOND_DATA_DIR";

/// The log levels `--log-level` accepts as plain words.
pub const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Keeps the 4D mobile app sessions of a MobileApps folder in memory and
/// answers mobile-session clients over a local socket.
///
/// mobile-sessiond runs in the foreground (it never forks) and logs to
/// stderr. SIGTERM or SIGINT stops it cleanly: it stops accepting, finishes
/// the requests in flight, removes its socket and exits 0. SIGHUP re-reads
/// the config file and pushes the session files into the live view (as
/// MOBILE APP REFRESH SESSIONS does).
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "mobile-sessiond",
    version,
    about = "Keeps the 4D mobile app sessions of a MobileApps folder in memory and answers mobile-session clients",
    after_help = EXAMPLES
)]
pub struct Args {
    /// Data dir: sessions live in DIR/MobileApps (created if missing)
    /// [default: $MOBILE_SESSIOND_DATA_DIR, then data_dir in the config
    /// file, then $XDG_DATA_HOME/mobile-sessiond]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Socket path [default: $MOBILE_SESSION_SOCKET,
    /// $XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock,
    /// /run/mobile-sessiond/… as root, /tmp/mobile-sessiond-UID/… otherwise]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// TOML config file [default: $MOBILE_SESSIOND_CONFIG, then
    /// /etc/mobile-sessiond/config.toml if it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The daemon's own state: last seen, blocked devices, history; never
    /// inside MobileApps [default: state_dir in the config file, then
    /// $STATE_DIRECTORY (systemd), then $XDG_STATE_HOME/mobile-sessiond/DATA-HASH
    /// (one per data dir), then /var/lib/mobile-sessiond]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Apply each settled file change to the live view without waiting for a push
    #[arg(long)]
    pub auto_push: bool,
    /// Poll the folder instead of using inotify (network file systems)
    #[arg(long)]
    pub poll: bool,
    /// Log level (error, warn, info, debug, trace, off) or a filter such as
    /// mobile_sessiond=debug [default: $RUST_LOG, then info]
    #[arg(long, value_name = "LEVEL", value_parser = parse_log_level)]
    pub log_level: Option<String>,
}

const EXAMPLES: &str = "\
Examples:
  mobile-sessiond --data-dir /var/lib/4d/Data
  mobile-sessiond --config /etc/mobile-sessiond/config.toml --log-level debug
  mobile-sessiond --data-dir ./Data --socket /tmp/mobile-sessiond.sock --auto-push";

/// Accepts a level word or a filter directive; anything else is a usage
/// error (exit 2), so that a typo such as `verbose` is not taken silently.
fn parse_log_level(s: &str) -> Result<String, String> {
    let word = s.trim();
    if LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word)) {
        return Ok(word.to_ascii_lowercase());
    }
    // A filter such as `mobile_sessiond=debug` or `info,mobile_sessiond=trace`:
    // every comma-separated part is a level word or `target=level`.
    let is_directive = |part: &str| match part.split_once('=') {
        Some((target, level)) => {
            !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
                && LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level))
        }
        None => LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(part)),
    };
    if word.contains('=') && word.split(',').all(is_directive) {
        return Ok(word.to_string());
    }
    Err(format!(
        "expected one of {} or a filter such as mobile_sessiond=debug",
        LOG_LEVELS.join(", ")
    ))
}

impl Args {
    /// The config file to read, in order: `--config`, `$MOBILE_SESSIOND_CONFIG`
    /// (when not empty), [`DEFAULT_CONFIG`] when it exists; `None` means
    /// built-in defaults.
    pub fn config_file(&self) -> Option<PathBuf> {
        resolve_config(
            self.config.as_deref(),
            std::env::var_os(CONFIG_ENV),
            Path::new(DEFAULT_CONFIG),
        )
    }
}

/// The rule of [`Args::config_file`] with its inputs passed in, for tests.
pub fn resolve_config(
    flag: Option<&Path>,
    env: Option<OsString>,
    default: &Path,
) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default.is_file().then(|| default.to_path_buf())
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

/// What the man page says beyond the options: `(term, text)` pairs for its
/// EXIT STATUS, ENVIRONMENT and FILES sections.
pub mod man {
    pub const EXIT_STATUS: &[(&str, &str)] = &[
        ("0", "Stopped cleanly on SIGTERM or SIGINT."),
        (
            "1",
            "Could not start or run: the data dir cannot be used, another daemon listens on the socket.",
        ),
        ("2", "Bad usage: an unknown option or a bad --log-level."),
        (
            "78",
            "The config file cannot be read or is not valid, or a group it names does not exist.",
        ),
    ];

    pub const ENVIRONMENT: &[(&str, &str)] = &[
        ("MOBILE_SESSIOND_CONFIG", "The config file when --config is not given."),
        ("MOBILE_SESSIOND_DATA_DIR", "The data dir when --data-dir is not given."),
        (
            "MOBILE_SESSION_SOCKET",
            "The socket path when --socket is not given (the client reads it too).",
        ),
        (
            "XDG_RUNTIME_DIR",
            "Parent of the default per-user socket folder mobile-sessiond/.",
        ),
        ("XDG_DATA_HOME", "Parent of the last-resort data dir mobile-sessiond/."),
        (
            "STATE_DIRECTORY",
            "The state dir when neither --state-dir nor state_dir names one (systemd's StateDirectory=).",
        ),
        (
            "XDG_STATE_HOME",
            "Parent of the user's state dirs mobile-sessiond/DATA-HASH/ (one per data dir; else ~/.local/state).",
        ),
        ("RUST_LOG", "The log filter when --log-level is not given."),
        (
            "LISTEN_FDS, LISTEN_PID",
            "Socket activation: the daemon serves the socket it is handed (fd 3) and never unlinks it.",
        ),
        (
            "NOTIFY_SOCKET, WATCHDOG_USEC",
            "Service manager notifications: READY=1, RELOADING=1, STOPPING=1 and watchdog pings.",
        ),
    ];

    pub const FILES: &[(&str, &str)] = &[
        (
            "/etc/mobile-sessiond/config.toml",
            "The config file when neither --config nor MOBILE_SESSIOND_CONFIG names one: data_dir, admin_group, reader_group, the sign-in policy.",
        ),
        (
            "DATA_DIR/MobileApps/APP/ID",
            "One session file per device, as a 4D server writes them.",
        ),
        (
            "STATE_DIR/last-seen, STATE_DIR/last-seen.journal",
            "When each session was last seen: a snapshot and the lines added since (SECONDS FOLDER/ID).",
        ),
        (
            "STATE_DIR/blocked.json",
            "The blocked devices (block, unblock, blocked).",
        ),
        (
            "STATE_DIR/history.jsonl, history.jsonl.1 to .4",
            "The changes made through the daemon, one JSON object a line, rotated past history_max_bytes.",
        ),
        (
            "/var/lib/mobile-sessiond",
            "The state dir under systemd, and of a daemon without HOME.",
        ),
        (
            "/run/mobile-sessiond/mobile-sessiond.sock",
            "The system socket (/var/run/mobile-sessiond/… on macOS).",
        ),
        (
            "$XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock",
            "The per-user socket.",
        ),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("mobile-sessiond").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn log_levels_and_filters_are_accepted() {
        for ok in [
            "error",
            "warn",
            "info",
            "debug",
            "trace",
            "off",
            "DEBUG",
            "mobile_sessiond=debug",
            "info,mobile_sessiond=trace",
            "mobile_sessiond::server=warn",
        ] {
            let a = parse(&["--log-level", ok]).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(a.log_level.is_some(), "{ok}");
        }
        assert_eq!(
            parse(&["--log-level", "DEBUG"])
                .unwrap()
                .log_level
                .as_deref(),
            Some("debug")
        );
    }

    #[test]
    fn unknown_log_levels_are_usage_errors() {
        for bad in [
            "bogus",
            "verbose",
            "",
            "mobile_sessiond",
            "x=loud",
            "=debug",
        ] {
            let e = parse(&["--log-level", bad]).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(
                e.to_string().contains("mobile_sessiond=debug"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn config_precedence() {
        let dir = std::env::temp_dir().join(format!("msd-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let default = dir.join("config.toml");
        let missing = dir.join("missing.toml");
        std::fs::write(&default, "").unwrap();
        let flag = Path::new("/flag.toml");
        assert_eq!(
            resolve_config(Some(flag), Some("/env.toml".into()), &default),
            Some(flag.to_path_buf())
        );
        assert_eq!(
            resolve_config(None, Some("/env.toml".into()), &default),
            Some(PathBuf::from("/env.toml"))
        );
        assert_eq!(
            resolve_config(None, Some("".into()), &default),
            Some(default.clone())
        );
        assert_eq!(resolve_config(None, None, &missing), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_option_has_help() {
        for a in command().get_arguments() {
            assert!(a.get_help().is_some(), "--{} has no help", a.get_id());
        }
    }
}
