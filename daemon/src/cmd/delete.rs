//! `delete SESSION... [--push]`: removes the session files.
use mobile_session_proto::{ChangeReport, Response};

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State, sessions: &[String], push: bool) -> Result<Response, CmdError> {
    let (sessions, push) = state.delete(sessions, push)?;
    Ok(Response::Changed(ChangeReport { sessions, push }))
}
