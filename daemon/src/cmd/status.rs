//! `status`: the daemon's version, pid, uptime, paths and counts.
use std::sync::Arc;

use mobile_session_proto::Response;

use crate::state::State;

pub fn handle(state: &Arc<State>) -> Response {
    Response::Status(state.status())
}
