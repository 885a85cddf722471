//! `refresh`: rescans every folder into the disk view, then answers `apps`.
use mobile_session_proto::Response;

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State) -> Result<Response, CmdError> {
    state.rescan()?;
    Ok(Response::Apps(state.apps()))
}
