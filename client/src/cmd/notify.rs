//! `mobile-session notify`: its arguments, the request they make, and its
//! exit code (the answer is printed by `render::notified`).

use clap::{ArgGroup, Args};
use clap_complete::engine::ArgValueCandidates;
use mobile_session::{Client, NotifyMessage, NotifyRecipients, NotifyReply, NotifyRequest};

use crate::cli::{app_arg, session_arg};
use crate::completion::app_folders;
use crate::exit::{emit, EXIT_CONFIG, EXIT_ERROR};
use crate::render::{self, View};

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("who")
        .required(true)
        .multiple(true)
        .args(["all", "emails", "sessions", "device_tokens"])
))]
pub struct NotifyArgs {
    /// The app: a folder name, or an app id when unambiguous
    #[arg(value_parser = app_arg, add = ArgValueCandidates::new(app_folders))]
    pub app: String,
    /// Every live session of the app
    #[arg(long, conflicts_with_all = ["emails", "sessions", "device_tokens"])]
    pub all: bool,
    /// The sessions with these e-mails (case-insensitive)
    #[arg(long = "email", value_name = "E", num_args = 1..)]
    pub emails: Vec<String>,
    /// These sessions: an id, a unique prefix of 4+ hex characters, or APP/ID
    #[arg(long = "session", value_name = "S", num_args = 1.., value_parser = session_arg)]
    pub sessions: Vec<String>,
    /// The sessions whose device.token (push token) is one of these
    #[arg(long = "device-token", value_name = "T", num_args = 1..)]
    pub device_tokens: Vec<String>,
    /// The notification's title
    #[arg(long, value_name = "T")]
    pub title: String,
    /// Its text
    #[arg(long, value_name = "B")]
    pub body: Option<String>,
    /// A second line under the title (iOS)
    #[arg(long, value_name = "S")]
    pub subtitle: Option<String>,
    /// The number on the app's icon (iOS)
    #[arg(long, value_name = "N")]
    pub badge: Option<u32>,
    /// A sound the app bundles, or "default"
    #[arg(long, value_name = "NAME")]
    pub sound: Option<String>,
    /// Custom keys for the app, a JSON object (for FCM, values that are not
    /// strings are sent as their JSON text)
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
    /// Pending sessions are recipients too
    #[arg(long)]
    pub include_pending: bool,
    /// List the recipients, send nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl NotifyArgs {
    pub fn request(self) -> NotifyRequest {
        NotifyRequest {
            app: self.app,
            recipients: NotifyRecipients {
                all: self.all,
                emails: self.emails,
                sessions: self.sessions,
                device_tokens: self.device_tokens,
            },
            message: NotifyMessage {
                title: self.title,
                body: self.body,
                subtitle: self.subtitle,
                badge: self.badge,
                sound: self.sound,
                data: self.data,
            },
            include_pending: self.include_pending,
            dry_run: self.dry_run,
        }
    }
}

/// Sends, prints, and returns the exit code: 0 when nothing failed
/// (skips allowed), 1 when something failed, 78 when a service refused
/// the credentials.
pub async fn run(client: &Client, args: NotifyArgs, view: &View) -> anyhow::Result<u8> {
    let reply = client.notify(args.request()).await?;
    emit(&render::notified(&reply, view))?;
    if !view.json {
        for w in &reply.warnings {
            eprintln!("warning: {w}");
        }
        for e in &reply.errors {
            eprintln!("error: {e}");
        }
    }
    Ok(exit_code(&reply))
}

pub fn exit_code(reply: &NotifyReply) -> u8 {
    if reply.config_error.is_some() {
        EXIT_CONFIG
    } else if reply.failed > 0 || !reply.errors.is_empty() {
        EXIT_ERROR
    } else {
        0
    }
}
