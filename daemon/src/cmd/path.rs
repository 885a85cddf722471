//! `path SESSION`: the absolute path of the session file.
use mobile_session_proto::Response;

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State, arg: &str) -> Result<Response, CmdError> {
    let target = state.resolve_one(arg)?;
    Ok(Response::Path {
        path: state.path_of(&target).display().to_string(),
    })
}
