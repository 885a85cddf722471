//! `authenticate`: signs a device in from the body of a `$authenticate` request.
use mobile_session_proto::Response;

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State, body: &str) -> Result<Response, CmdError> {
    Ok(Response::Authenticated(state.authenticate(body)?))
}
