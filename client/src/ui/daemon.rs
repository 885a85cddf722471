//! The only place the window calls the client library: one connection for
//! requests, one for `watch`. Everything else in `ui` sees these methods.

use std::path::Path;

use mobile_session::{Client, ClientError, EventStream};
use mobile_session_proto::{
    AppRow, ChangeReport, ErrorCode, Event, PushReport, Role, SessionFilter, SessionRow, Status,
};

use super::model::SessionKey;

/// A connection for requests, answered one at a time in order.
pub struct Daemon {
    client: Client,
}

impl Daemon {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        Ok(Self::new(Client::connect(socket).await?))
    }

    /// The role the daemon gave (a connected client always has one; a
    /// reader's window is the safe assumption otherwise).
    pub fn role(&self) -> Role {
        self.client.role().unwrap_or(Role::Reader)
    }

    pub fn version(&self) -> String {
        self.client.daemon_version().unwrap_or_default()
    }

    pub async fn apps(&mut self) -> Result<Vec<AppRow>, ClientError> {
        self.client.apps().await
    }

    /// Every row of every app (the window filters by app itself).
    pub async fn sessions(&mut self) -> Result<Vec<SessionRow>, ClientError> {
        self.client.sessions(SessionFilter::default()).await
    }

    pub async fn show(&mut self, key: &SessionKey) -> Result<String, ClientError> {
        self.client.show(&key.arg()).await
    }

    pub async fn set_status(
        &mut self,
        status: Status,
        keys: &[SessionKey],
    ) -> Result<ChangeReport, ClientError> {
        let args: Vec<String> = keys.iter().map(SessionKey::arg).collect();
        self.client.set_status(status, &args, false).await
    }

    pub async fn delete(&mut self, keys: &[SessionKey]) -> Result<ChangeReport, ClientError> {
        let args: Vec<String> = keys.iter().map(SessionKey::arg).collect();
        self.client.delete(&args, false).await
    }

    pub async fn push(&mut self) -> Result<PushReport, ClientError> {
        self.client.push(false).await
    }

    /// Rescans every folder; answers how many app folders there are.
    pub async fn rescan(&mut self) -> Result<usize, ClientError> {
        Ok(self.client.refresh().await?.len())
    }
}

/// The `watch` stream, on a connection of its own.
pub struct Events {
    stream: EventStream,
}

impl Events {
    pub async fn open(socket: &Path) -> Result<Self, ClientError> {
        let stream = Client::connect(socket).await?.watch(None).await?;
        Ok(Self { stream })
    }

    /// The next event; `None` when the daemon closed the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        self.stream.next_event().await.transpose()
    }
}

/// Whether the connection is unusable (reconnect), as opposed to a request
/// the daemon refused or failed (report it and go on).
pub fn connection_lost(e: &ClientError) -> bool {
    match e {
        ClientError::Daemon(reply) => reply.code == ErrorCode::ShuttingDown,
        _ => true,
    }
}

/// One line for the status bar (the library's messages may hold a hint on
/// a second line).
pub fn describe(e: &ClientError) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let code = match e {
        ClientError::Daemon(reply) => match reply.code {
            ErrorCode::PermissionDenied => "permission denied: ",
            ErrorCode::Conflict => "conflict: ",
            _ => "",
        },
        _ => "",
    };
    format!("{code}{first}")
}
