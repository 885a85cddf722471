//! `push`: applies the disk to the live view (`MOBILE APP REFRESH SESSIONS`).
use mobile_session_proto::Response;

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State, full: bool) -> Result<Response, CmdError> {
    Ok(Response::Pushed(state.push_request(full)?))
}
