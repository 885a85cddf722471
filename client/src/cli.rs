//! The command line (clap derive). Kept apart from `main.rs` so the man page
//! and completions are generated from the same definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Manage the sign-in sessions of 4D mobile apps through mobile-sessiond.
#[derive(Debug, Parser)]
#[command(name = "mobile-session", version, about, propagate_version = true)]
pub struct Cli {
    /// Daemon socket [default: $MOBILE_SESSION_SOCKET, $XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock,
    /// /run/mobile-sessiond/… as root, /tmp/mobile-sessiond-UID/… otherwise]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Machine-readable JSON on stdout (messages go to stderr)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Accepted,
    Pending,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One row per app folder: folder, app id, name, team, sessions, pending
    Apps,
    /// One row per session of the disk view, with its unpushed mark
    Sessions {
        /// An app folder name, or an app id when unambiguous
        app: Option<String>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only sessions with this e-mail (case-insensitive)
        #[arg(long, value_name = "E")]
        email: Option<String>,
        /// Only the session whose device.token (push token) is T
        #[arg(long, value_name = "T")]
        device_token: Option<String>,
    },
    /// The session file's whole JSON object
    Show {
        /// A session id, a unique prefix (4+ hex characters) or APP/ID
        session: String,
    },
    /// The absolute path of the session file
    Path {
        session: String,
        /// Reveal the file in the desktop's file manager
        #[arg(long)]
        open: bool,
    },
    /// Set the status of sessions (rewrites only "status" in each file)
    SetStatus {
        #[arg(value_enum)]
        status: StatusArg,
        #[arg(required = true)]
        sessions: Vec<String>,
        /// Push afterwards
        #[arg(long)]
        push: bool,
    },
    /// Accept sessions: the same as `set-status accepted`
    Accept {
        #[arg(required = true)]
        sessions: Vec<String>,
        #[arg(long)]
        push: bool,
    },
    /// Delete session files
    Delete {
        #[arg(required = true)]
        sessions: Vec<String>,
        #[arg(long)]
        push: bool,
    },
    /// Apply the files to the live view (MOBILE APP REFRESH SESSIONS)
    Push {
        /// Re-read and re-validate every file, not only what changed
        #[arg(long)]
        full: bool,
    },
    /// Rescan every folder into the disk view, then print `apps`
    Refresh,
    /// Check a token against the live view: accepted (exit 0), pending (3), unknown (4)
    Verify { token: String },
    /// Sign a device in from a $authenticate request body (FILE, or - / nothing for stdin)
    Authenticate { file: Option<PathBuf> },
    /// The daemon: version, pid, uptime, paths, counts, watcher
    Status,
    /// Stream events (created, changed, deleted, status, pushed, invalid) until interrupted
    Watch,
    /// Full-screen window: apps, sessions, status, push; follows changes live
    ///
    /// Keys: ↑↓/jk move, Tab apps ↔ sessions, s toggles the status, Space marks
    /// and a accepts the marked, d deletes (y confirms), o reveals the file,
    /// p pushes, r refreshes, / filters by e-mail, device or id, < > I sort,
    /// ? help, q quits. A reader connection gets a read-only window.
    Ui,
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}
