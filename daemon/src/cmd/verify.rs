//! `verify TOKEN`: the hot path. Answered inline from the live view (no
//! blocking pool, no disk): a decode and one hash lookup.
use std::sync::Arc;

use mobile_session_proto::Response;

use crate::state::State;

pub fn handle(state: &Arc<State>, token: &str) -> Response {
    Response::Verified(state.verify(token))
}
