//! `set-status STATUS SESSION... [--push]` (and `accept`): rewrites only the
//! `status` of each file.
use mobile_session_proto::{ChangeReport, Response, Status};

use crate::error::CmdError;
use crate::state::State;

pub fn handle(
    state: &State,
    status: Status,
    sessions: &[String],
    push: bool,
) -> Result<Response, CmdError> {
    let (sessions, push) = state.set_status(sessions, status, push)?;
    Ok(Response::Changed(ChangeReport { sessions, push }))
}
