//! The command line (clap derive). Kept apart from `main.rs` so the man
//! pages and completions come from the same definitions. Arguments whose
//! syntax the client can check (SESSION, APP) are checked here, so that a
//! typo is a usage error (exit 2) before any daemon is asked.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use clap_complete::engine::ArgValueCandidates;
use mobile_session::proto::MIN_ID_PREFIX as MIN_PREFIX;
use mobile_session::Destination;

use crate::completion::app_folders;

/// Manage the sign-in sessions of 4D mobile apps through mobile-sessiond.
#[derive(Debug, Parser)]
#[command(
    name = "mobile-session",
    version,
    about = "Manage the sign-in sessions of 4D mobile apps through mobile-sessiond",
    long_about = "Manage the sign-in sessions of 4D mobile apps through mobile-sessiond.\n\n\
        mobile-session lists apps and sessions, accepts or holds back devices, deletes \
        sessions, pushes the session files into the daemon's live view, checks tokens and \
        signs devices in. The daemon decides; this program renders its answers.",
    propagate_version = true,
    after_help = "Examples:\n  \
        mobile-session sessions --status pending\n  \
        mobile-session accept a6a3 --push\n  \
        mobile-session --json status\n  \
        mobile-session -H admin@prod1 sessions --status pending"
)]
pub struct Cli {
    /// Daemon socket [default: $MOBILE_SESSION_SOCKET, else the first that
    /// exists of $XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock (or
    /// /tmp/mobile-sessiond-UID/… without XDG_RUNTIME_DIR) and
    /// /run/mobile-sessiond/mobile-sessiond.sock]; with --host, the
    /// daemon's socket on that host
    #[arg(long, global = true, value_name = "PATH", value_hint = ValueHint::AnyPath)]
    pub socket: Option<PathBuf>,
    /// Talk to the daemon on another host, through ssh (as the remote
    /// user, with that user's rights): ssh://[USER@]HOST[:PORT][/SOCKET]
    /// or [USER@]HOST. $MOBILE_SESSION_SSH_COMMAND replaces `ssh`;
    /// unix://[SOCKET] is this machine
    #[arg(
        short = 'H',
        long,
        global = true,
        env = mobile_session::HOST_ENV,
        value_name = "HOST",
        value_parser = host_arg,
        value_hint = ValueHint::Hostname
    )]
    pub host: Option<Destination>,
    /// Machine-readable JSON on stdout (messages go to stderr)
    #[arg(long, global = true, conflicts_with = "quiet")]
    pub json: bool,
    /// Print identifiers only (session ids, app folders), one per line
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Leave out the header line of tables
    #[arg(long, global = true)]
    pub no_legend: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// The device may sign in
    Accepted,
    /// The device waits until someone accepts it
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// App folder, then id (the rows stream as they are read)
    Id,
    /// Least recently active first (last seen, or the file's last write)
    Activity,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per app folder: folder, app id, name, team, sessions, pending
    #[command(after_help = "Examples:\n  mobile-session apps\n  mobile-session --json apps")]
    Apps,
    /// One row per session of the disk view, with its unpushed mark
    #[command(after_help = "Examples:\n  \
        mobile-session sessions\n  \
        mobile-session sessions com.contactApp.Contact --status pending\n  \
        mobile-session sessions --invalid\n  \
        mobile-session -q sessions --email marie.dupont@example.com")]
    Sessions {
        /// Only this app: a folder name, or an app id when unambiguous
        #[arg(value_parser = app_arg, add = ArgValueCandidates::new(app_folders))]
        app: Option<String>,
        /// Only sessions with this status
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only sessions with this e-mail (case-insensitive)
        #[arg(long, value_name = "E")]
        email: Option<String>,
        /// Only the session whose device.token (push token) is T
        #[arg(long, value_name = "T")]
        device_token: Option<String>,
        /// Only the invalid session files, each with 4D's error code (1-4)
        #[arg(long)]
        invalid: bool,
        /// Only sessions active within DUR (last seen, or file written), e.g. 1h, 90d; by activity
        #[arg(long, value_name = "DUR", value_parser = duration_arg)]
        seen_after: Option<Duration>,
        /// Only sessions not active within DUR, e.g. 90d; by activity
        #[arg(long, value_name = "DUR", value_parser = duration_arg)]
        seen_before: Option<Duration>,
        /// Only sessions sharing an app and a device.id or a push token with another, group by group
        #[arg(long, conflicts_with = "invalid")]
        duplicates: bool,
        /// Row order: id (app, then id) or activity (least recently active first); the --seen-* filters sort by activity
        #[arg(long, value_enum, value_name = "ORDER")]
        sort: Option<SortArg>,
    },
    /// The session file's whole JSON object (an invalid one as stored; with --json, one that is not a JSON object exits 1)
    #[command(after_help = "Examples:\n  mobile-session show a6a3\n  \
        mobile-session show UTT7VDX8W5.com.contactApp.Contact/a6a3a450")]
    Show {
        /// A session id, a unique prefix of 4+ hex characters, or APP/ID
        #[arg(value_parser = session_arg)]
        session: String,
    },
    /// The absolute path of the session file
    #[command(
        after_help = "Examples:\n  mobile-session path a6a3\n  mobile-session path a6a3 --open"
    )]
    Path {
        /// A session id, a unique prefix of 4+ hex characters, or APP/ID
        #[arg(value_parser = session_arg)]
        session: String,
        /// Reveal the file in the desktop's file manager
        #[arg(long)]
        open: bool,
    },
    /// Set the status of sessions (rewrites only "status" in each file)
    #[command(after_help = "Examples:\n  \
        mobile-session set-status pending 7023 --push\n  \
        mobile-session set-status accepted a6a3 1818")]
    SetStatus {
        /// The new status
        #[arg(value_enum)]
        status: StatusArg,
        /// Sessions: ids, unique prefixes of 4+ hex characters, or APP/ID
        #[arg(required = true, value_parser = session_arg)]
        sessions: Vec<String>,
        /// Push afterwards, so that the change is live at once
        #[arg(long)]
        push: bool,
    },
    /// Accept sessions: the same as `set-status accepted`
    #[command(
        visible_alias = "approve",
        after_help = "Examples:\n  \
            mobile-session accept a6a3 --push\n  \
            mobile-session accept --all-pending\n  \
            mobile-session accept --all-pending com.contactApp.Contact --push"
    )]
    Accept {
        /// Sessions: ids, unique prefixes of 4+ hex characters, or APP/ID
        #[arg(
            required_unless_present = "all_pending",
            conflicts_with = "all_pending",
            value_parser = session_arg
        )]
        sessions: Vec<String>,
        /// Accept every pending session (of APP only, when given)
        #[arg(
            long,
            value_name = "APP",
            num_args = 0..=1,
            default_missing_value = "",
            value_parser = optional_app_arg,
            add = ArgValueCandidates::new(app_folders)
        )]
        all_pending: Option<String>,
        /// Push afterwards, so that the change is live at once
        #[arg(long)]
        push: bool,
    },
    /// Delete session files
    #[command(after_help = "Examples:\n  \
        mobile-session delete 1818 --push\n  \
        mobile-session delete 7023 a6a3 --dry-run\n  \
        mobile-session delete 7023 a6a3 --yes")]
    Delete {
        /// Sessions: ids, unique prefixes of 4+ hex characters, or APP/ID
        #[arg(required = true, value_parser = session_arg)]
        sessions: Vec<String>,
        /// Push afterwards, so that the sessions are gone from the live view at once
        #[arg(long)]
        push: bool,
        /// Do not ask for confirmation (asked only on a terminal, for several sessions)
        #[arg(short, long)]
        yes: bool,
        /// Print the files that would be deleted, and delete nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Apply the files to the live view (MOBILE APP REFRESH SESSIONS)
    #[command(
        after_help = "Examples:\n  mobile-session push\n  mobile-session push --dry-run\n  \
            mobile-session push --full --strict"
    )]
    Push {
        /// Re-read and re-validate every file, not only what changed
        #[arg(long)]
        full: bool,
        /// Exit 1 when session files are invalid
        #[arg(long)]
        strict: bool,
        /// Print what the push would report (counts, invalid files), and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Rescan every folder into the disk view, then print `apps`
    #[command(after_help = "Examples:\n  mobile-session refresh")]
    Refresh,
    /// Check a token against the live view: accepted (exit 0), pending (3), unknown (4)
    #[command(after_help = "Examples:\n  \
        mobile-session verify eyJhcHBOYW1lSUQiOi...\n  \
        printf '%s' \"$TOKEN\" | mobile-session verify -\n  \
        mobile-session verify \"Bearer $TOKEN\"")]
    Verify {
        /// The token, with or without a leading "Bearer "; - reads it from
        /// standard input (so that it does not show in `ps`)
        token: String,
    },
    /// Sign a device in from a $authenticate request body: accepted (exit 0), pending (3), refused (4)
    #[command(after_help = "Examples:\n  \
        mobile-session authenticate request.json\n  \
        mobile-session --json authenticate --ip \"$REMOTE_ADDR\" < request.json")]
    Authenticate {
        /// The request body (JSON); - or nothing reads standard input
        #[arg(value_hint = ValueHint::FilePath)]
        file: Option<PathBuf>,
        /// The IP address the app's request came from, as the web server saw
        /// it: stored as the session's session.ip and told to the sign-in
        /// hook (a session object in the body is never trusted)
        #[arg(long, value_name = "ADDR")]
        ip: Option<String>,
    },
    /// Store userInfo and the push token of a $userInfo body in the session of TOKEN
    #[command(after_help = "Examples:\n  \
        mobile-session user-info \"$TOKEN\" body.json\n  \
        echo '{\"userInfo\":{\"plan\":\"pro\"}}' | mobile-session user-info \"$TOKEN\"")]
    UserInfo {
        /// The session's token, with or without "Bearer "; - reads it from standard input
        token: String,
        /// The body, {"userInfo":{...},"device":{"token":"..."}}; - or nothing reads standard input
        #[arg(value_hint = ValueHint::FilePath)]
        file: Option<PathBuf>,
    },
    /// Sign out: delete the session of TOKEN and drop it from the live view
    #[command(after_help = "Examples:\n  mobile-session logout \"$TOKEN\"\n  \
        printf '%s' \"$TOKEN\" | mobile-session logout -")]
    Logout {
        /// The session's token, with or without "Bearer "; - reads it from standard input
        token: String,
    },
    /// The daemon: version, pid, uptime, paths, counts, connections, watcher
    #[command(
        after_help = "Examples:\n  mobile-session status\n  mobile-session -q status && echo up"
    )]
    Status,
    /// Stream events (created, changed, deleted, status, pushed, invalid) until interrupted
    #[command(after_help = "Examples:\n  \
        mobile-session watch\n  \
        mobile-session watch --app com.contactApp.Contact --json")]
    Watch {
        /// Only the events of this app: a folder name, or an app id when unambiguous
        #[arg(
            long,
            value_name = "APP",
            value_parser = app_arg,
            add = ArgValueCandidates::new(app_folders)
        )]
        app: Option<String>,
    },
    /// Full-screen window: apps, sessions, status, push; follows changes live
    ///
    /// Keys: ↑↓/jk move, Tab apps ↔ sessions, s toggles the status, Space marks
    /// and a accepts the marked, d deletes (y confirms), o reveals the file,
    /// p pushes, r refreshes, / filters by e-mail, device or id, < > I sort,
    /// ? help, q quits. A reader connection gets a read-only window.
    #[command(
        after_help = "Examples:\n  mobile-session ui\n  mobile-session --socket /run/mobile-sessiond/mobile-sessiond.sock ui"
    )]
    Ui,
    /// Send a push notification to the devices of an app's live sessions (APNs, FCM)
    #[command(after_help = "Examples:\n  \
        mobile-session notify com.contactApp.Contact --all --title 'New data' --body 'Pull to refresh'\n  \
        mobile-session notify com.sample.tasks --email li.wei@example.com --title Hi --data '{\"dataClass\":\"Tasks\"}'\n  \
        mobile-session --json notify com.contactApp.Contact --all --title Test --dry-run\n\n\
        Exit: 0 nothing failed (skips allowed), 1 something failed, 78 the app has no usable \
        credentials (the message names the setting), 2 bad usage.")]
    Notify(crate::cmd::notify::NotifyArgs),
    /// Delete the sessions not active for DUR (last seen, or file written, whichever is later)
    #[command(after_help = "Examples:\n  \
        mobile-session purge --inactive 90d --dry-run\n  \
        mobile-session purge --inactive 180d com.contactApp.Contact --yes --push")]
    Purge(crate::cmd::purge::PurgeArgs),
    /// Delete duplicate sessions: of those sharing an app and a device.id or a push token, keep the most recently active
    #[command(after_help = "Examples:\n  \
        mobile-session sessions --duplicates\n  \
        mobile-session dedupe --dry-run\n  \
        mobile-session dedupe com.sample.tasks --yes --push")]
    Dedupe(crate::cmd::purge::DedupeArgs),
    /// Keep devices out: delete their sessions at once and refuse their next sign-ins
    #[command(after_help = "Examples:\n  \
        mobile-session block a6a3 --reason 'Lost phone, call the help desk'\n  \
        mobile-session block --app com.sample.tasks --device 0DC5132E-1EF4-407C-A832-5FE33D818AF3")]
    Block(crate::cmd::block::BlockArgs),
    /// Let a blocked device sign in again
    #[command(after_help = "Examples:\n  \
        mobile-session unblock --app com.sample.tasks --device 0DC5132E-1EF4-407C-A832-5FE33D818AF3")]
    Unblock(crate::cmd::block::UnblockArgs),
    /// The blocked devices: app, device, reason, time, who blocked it
    #[command(after_help = "Examples:\n  mobile-session blocked\n  mobile-session --json blocked")]
    Blocked,
    /// The changes made through the daemon, oldest first: who (uid, process), what, when
    #[command(after_help = "Examples:\n  \
        mobile-session history --since 1d\n  \
        mobile-session history a6a3\n  \
        mobile-session --json history com.contactApp.Contact")]
    History(crate::cmd::history::HistoryArgs),
    /// Print the script that makes a shell complete mobile-session's commands, options and values
    ///
    /// The script calls mobile-session back at each Tab (the daemon lists
    /// the app folders when it answers), so it follows the program it comes
    /// from: make it again after an upgrade, or source it anew in each shell.
    #[command(after_help = "Examples:\n  \
        echo 'source <(mobile-session completions bash)' >> ~/.bashrc\n  \
        mobile-session completions zsh > \"${fpath[1]}/_mobile-session\"\n  \
        mobile-session completions fish > ~/.config/fish/completions/mobile-session.fish")]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Connect standard input and output to the daemon's socket (what
    /// --host runs on the other host, through ssh)
    #[command(
        hide = true,
        after_help = "Examples:\n  mobile-session dial-stdio --socket /run/mobile-sessiond/mobile-sessiond.sock"
    )]
    DialStdio,
    /// Print the man page, or write every man page into a folder
    #[command(after_help = "Examples:\n  \
        mobile-session man | man -l -\n  \
        mobile-session man --out-dir /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write mobile-session.1, mobile-session-COMMAND.1 for each command and
    /// mobile-sessiond.8 into DIR (created if missing) instead of printing
    /// mobile-session.1
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub out_dir: Option<PathBuf>,
}

/// SESSION: hex of 4+ characters, or APP/ID with a plain APP.
pub fn session_arg(s: &str) -> Result<String, String> {
    let (app, id) = match s.split_once('/') {
        Some((app, id)) => (Some(app), id),
        None => (None, s),
    };
    if let Some(app) = app {
        app_arg(app).map_err(|e| format!("in APP/ID, {e}"))?;
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not a session: give its id (hexadecimal, {MIN_PREFIX}+ characters) or APP/ID"
        ));
    }
    if id.len() < MIN_PREFIX {
        return Err(format!(
            "{s:?} is too short: give at least {MIN_PREFIX} hex characters of the id"
        ));
    }
    Ok(s.to_string())
}

/// APP: a plain folder name (no path, not hidden), as the daemon requires.
pub fn app_arg(s: &str) -> Result<String, String> {
    let plain =
        !s.is_empty() && !s.starts_with('.') && !s.contains(['/', '\\', '\0']) && s.len() <= 255;
    if plain {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an app: give a folder name such as TEAMID.com.example.app, or an app id"
        ))
    }
}

/// DUR: a duration such as `90d`, `12h`, `30min` or `2weeks`, above zero.
pub fn duration_arg(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.as_secs() > 0 => Ok(d),
        Ok(_) => Err(format!(
            "{s:?} is less than a second; give a duration such as 1h or 90d"
        )),
        Err(e) => Err(format!("{s:?} is not a duration such as 1h or 90d: {e}")),
    }
}

/// SESSION or APP, for `history`: what was deleted may be named too.
pub fn target_arg(s: &str) -> Result<String, String> {
    session_arg(s).or_else(|_| app_arg(s))
}

/// HOST: an ssh address, or unix:// for this machine; empty (an empty
/// `$MOBILE_SESSION_HOST`) is this machine too.
fn host_arg(s: &str) -> Result<Destination, String> {
    match s {
        "" => Ok(Destination::Local(None)),
        s => Destination::parse(s).map_err(|e| e.to_string()),
    }
}

/// `--all-pending` alone means every app (the empty value).
fn optional_app_arg(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Ok(String::new())
    } else {
        app_arg(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_argument_has_help_and_every_command_an_example() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        let mut check = |c: &clap::Command| {
            for a in c.get_arguments() {
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{} {}", c.get_name(), a.get_id()));
                }
            }
        };
        check(&cmd);
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            check(sub);
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Examples:\n  mobile-session")
                    || after.contains("Examples:\n  printf")
                    || after.contains("Examples:\n  echo"),
                "{} has no example",
                sub.get_name()
            );
        }
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn session_syntax() {
        for ok in [
            "7023",
            "7023D9",
            "UTT7VDX8W5.com.contactApp.Contact/7023",
            "com.x/abcd",
        ] {
            assert!(session_arg(ok).is_ok(), "{ok}");
        }
        for bad in [
            "70",
            "zzzz",
            "",
            "../x",
            "/etc/passwd",
            "a/b/cdef",
            "./abcd",
            "app/",
            "7023/..",
            "7023\0",
        ] {
            assert!(session_arg(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            &["mobile-session", "show", "zzzz"][..],
            &["mobile-session", "show", "70"],
            &["mobile-session", "sessions", "../x"],
            &["mobile-session", "set-status", "maybe", "7023"],
            &["mobile-session", "accept"],
            &["mobile-session", "accept", "7023", "--all-pending"],
            &["mobile-session", "--json", "-q", "apps"],
            &["mobile-session", "-H", "prod1:22", "apps"],
            &["mobile-session", "-H", "-oProxyCommand=x", "apps"],
            &["mobile-session", "--host", "tcp://prod1", "apps"],
        ] {
            let e = Cli::try_parse_from(args).expect_err(&args.join(" "));
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn accept_all_pending_takes_an_optional_app() {
        let cli = Cli::try_parse_from(["mobile-session", "approve", "--all-pending"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Accept { all_pending: Some(ref a), .. } if a.is_empty()
        ));
        let cli = Cli::try_parse_from([
            "mobile-session",
            "accept",
            "--all-pending",
            "com.x",
            "--push",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Accept { all_pending: Some(ref a), push: true, .. } if a == "com.x"
        ));
    }
}
