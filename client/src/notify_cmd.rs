//! `mobile-session notify`: its arguments, the request they make, and how
//! the daemon's answer is printed (4D's `PushNotification` shape with
//! `--json`, a table otherwise) and exits.

use clap::{ArgGroup, Args};
use mobile_session::{
    Client, NotifyMessage, NotifyRecipients, NotifyReply, NotifyRequest, NotifyResult, NotifyStatus,
};
use serde_json::{json, Value};

use crate::cli::{app_arg, session_arg};
use crate::render::{table, Cell, View};

/// Exit code of an app without usable push credentials (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("who")
        .required(true)
        .multiple(true)
        .args(["all", "emails", "sessions", "device_tokens"])
))]
pub struct NotifyArgs {
    /// The app: a folder name, or an app id when unambiguous
    #[arg(value_parser = app_arg)]
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
    crate::emit(&render(&reply, view))?;
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
        1
    } else {
        0
    }
}

fn result_json(r: &NotifyResult) -> Value {
    json!({
        "app": r.app,
        "id": r.id,
        "platform": r.platform.map(|p| p.as_str()),
        "status": r.status.as_str(),
        "reason": r.reason,
        "token_removed": r.token_removed,
    })
}

pub fn reply_json(r: &NotifyReply) -> Value {
    json!({
        "success": r.success,
        "warnings": r.warnings,
        "errors": r.errors,
        "sent": r.sent,
        "failed": r.failed,
        "skipped": r.skipped,
        "results": r.results.iter().map(result_json).collect::<Vec<_>>(),
        "app": r.app,
        "dry_run": r.dry_run,
    })
}

/// The counts of a `notify` event, as `watch --json` prints them.
pub fn counts_json(n: &mobile_session::NotifyCounts) -> Value {
    json!({"sent": n.sent, "failed": n.failed, "skipped": n.skipped, "tokens_removed": n.tokens_removed})
}

pub fn render(r: &NotifyReply, view: &View) -> String {
    if view.json {
        return format!("{}\n", reply_json(r));
    }
    if view.quiet {
        // The sessions reached (would be, with --dry-run).
        let reached = |x: &&NotifyResult| match r.dry_run {
            true => x.reason.as_deref() == Some("dry run"),
            false => x.status == NotifyStatus::Sent,
        };
        return r
            .results
            .iter()
            .filter(reached)
            .map(|x| format!("{}\n", x.id))
            .collect();
    }
    let rows = r
        .results
        .iter()
        .map(|x| {
            let mut reason = x.reason.clone().unwrap_or_default();
            if x.token_removed {
                reason.push_str(" (token removed)");
            }
            vec![
                Cell::from(x.app.as_str()),
                Cell::from(x.id.as_str()),
                Cell::from(x.platform.map_or("-", |p| p.as_str())),
                Cell::from(x.status.as_str()),
                Cell::from(reason),
            ]
        })
        .collect();
    let mut out = table(view, &["APP", "ID", "PLATFORM", "STATUS", "REASON"], rows);
    let removed = r.results.iter().filter(|x| x.token_removed).count();
    let what = if r.dry_run {
        "dry run, nothing sent"
    } else {
        "notified"
    };
    out.push_str(&format!(
        "{what}: {} sent, {} failed ({removed} tokens removed), {} skipped\n",
        r.sent, r.failed, r.skipped
    ));
    out
}
