//! `apps`: one row per app folder.
use mobile_session_proto::Response;

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State) -> Result<Response, CmdError> {
    Ok(Response::Apps(state.apps()))
}
