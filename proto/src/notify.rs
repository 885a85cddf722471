//! What `Request::Notify` carries and `Response::Notified` answers: push
//! notifications to the devices of an app's sessions.

use serde::{Deserialize, Serialize};

/// Who `Notify` is for: every live session of the app, or those named
/// (several lists add up).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRecipients {
    pub all: bool,
    /// E-mails, compared without regard to case.
    pub emails: Vec<String>,
    /// SESSION arguments (id, prefix or APP/ID).
    pub sessions: Vec<String>,
    /// Push tokens (`device.token`).
    pub device_tokens: Vec<String>,
}

// Push tokens are the devices' credentials: counted, never printed.
impl std::fmt::Debug for NotifyRecipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyRecipients")
            .field("all", &self.all)
            .field("emails", &self.emails)
            .field("sessions", &self.sessions)
            .field(
                "device_tokens",
                &format_args!("<{} tokens>", self.device_tokens.len()),
            )
            .finish()
    }
}

/// What a notification shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyMessage {
    pub title: String,
    pub body: Option<String>,
    /// iOS only.
    pub subtitle: Option<String>,
    /// iOS only: the number on the app's icon.
    pub badge: Option<u32>,
    pub sound: Option<String>,
    /// A JSON object (text) of custom keys delivered with the notification.
    pub data: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRequest {
    /// APP: a folder name, or an app id when unambiguous.
    pub app: String,
    pub recipients: NotifyRecipients,
    pub message: NotifyMessage,
    /// Pending sessions are recipients too.
    pub include_pending: bool,
    /// List the recipients, send nothing.
    pub dry_run: bool,
}

/// The push service a device is reached through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Platform {
    /// APNs.
    Ios,
    /// FCM.
    Android,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyStatus {
    Sent,
    Failed,
    /// Not sent: no push token, pending, or a dry run.
    Skipped,
}

impl NotifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyStatus::Sent => "sent",
            NotifyStatus::Failed => "failed",
            NotifyStatus::Skipped => "skipped",
        }
    }
}

/// One session's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyResult {
    pub app: String,
    pub id: String,
    /// `None` when the session's device is of no known platform.
    pub platform: Option<Platform>,
    pub status: NotifyStatus,
    /// Why it failed or was skipped (the service's own reason, when it gave one).
    pub reason: Option<String>,
    /// The service said the token is gone, and it was removed from the file.
    pub token_removed: bool,
}

/// The answer to `Notify`, in 4D's shape (`success`, `warnings`, `errors`)
/// with the counts and one result per session considered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyReply {
    /// The app's folder.
    pub app: String,
    pub dry_run: bool,
    /// As 4D's `PushNotification`: at least one notification was sent.
    pub success: bool,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    pub results: Vec<NotifyResult>,
    /// A push service refused the credentials while sending (APNs 403, a
    /// service account refused): the reason, also in `errors`.
    pub config_error: Option<String>,
}

/// The counts of one `notify`, carried by its `watch` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyCounts {
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    pub tokens_removed: u64,
}
