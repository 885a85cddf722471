//! One module per request: each parses its arguments, applies them to the
//! [`State`] and builds the response. Anything that touches files runs on
//! the blocking pool so the connection tasks never wait on a disk.

pub mod apps;
pub mod authenticate;
pub mod delete;
pub mod path;
pub mod push;
pub mod refresh;
pub mod sessions;
pub mod set_status;
pub mod show;
pub mod status;
pub mod verify;
pub mod watch;

use std::sync::Arc;

use mobile_session_proto::{Request, Response, Role};

use crate::error::CmdError;
use crate::state::State;

/// Whether the request changes files or the live view (admins only).
pub fn writes(request: &Request) -> bool {
    matches!(
        request,
        Request::SetStatus { .. }
            | Request::Delete { .. }
            | Request::Push { .. }
            | Request::Refresh
            | Request::Authenticate { .. }
            | Request::UserInfo { .. }
            | Request::Logout { .. }
    )
}

pub async fn dispatch(state: &Arc<State>, role: Role, request: Request) -> Response {
    match request {
        Request::Verify { token } => verify::handle(state, &token),
        Request::Status => status::handle(state),
        Request::Apps => blocking(state, apps::handle).await,
        Request::Show { session } => {
            blocking(state, move |s| show::handle(s, role, &session)).await
        }
        Request::Path { session } => blocking(state, move |s| path::handle(s, &session)).await,
        Request::SetStatus {
            status,
            sessions,
            push,
        } => {
            blocking(state, move |s| {
                set_status::handle(s, status, &sessions, push)
            })
            .await
        }
        Request::Delete { sessions, push } => {
            blocking(state, move |s| delete::handle(s, &sessions, push)).await
        }
        Request::Push { full } => blocking(state, move |s| push::handle(s, full)).await,
        Request::Refresh => blocking(state, refresh::handle).await,
        Request::Authenticate { body } => {
            blocking(state, move |s| authenticate::handle(s, &body)).await
        }
        Request::UserInfo { .. } | Request::Logout { .. } => {
            error(CmdError::bad_request("not supported yet"))
        }
        // Streaming requests are served by the connection loop itself.
        Request::Sessions(_) | Request::Watch { .. } => {
            error(CmdError::internal("streaming request in dispatch"))
        }
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<F>(state: &Arc<State>, f: F) -> Response
where
    F: FnOnce(&State) -> Result<Response, CmdError> + Send + 'static,
{
    let state = state.clone();
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => error(e),
        Err(e) => error(CmdError::internal(format!("the command failed: {e}"))),
    }
}

pub fn error(e: CmdError) -> Response {
    Response::Error(e.into_reply())
}
