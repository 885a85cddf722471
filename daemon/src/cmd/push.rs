//! `push`: applies the disk to the live view, as 4D's `MOBILE APP REFRESH
//! SESSIONS` does; `full` re-reads every file first.
use mobile_session_proto::Response;

use super::{CmdError, Context};

pub fn handle(ctx: &Context, full: bool) -> Result<Response, CmdError> {
    Ok(Response::Pushed(ctx.core.push(full)?))
}
