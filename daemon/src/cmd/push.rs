//! `push`: applies the disk to the live view, as 4D's `MOBILE APP REFRESH
//! SESSIONS` does; `full` re-reads every file first. `push --dry-run`
//! (`PushPreview`) answers what the push would, changing nothing.
use mobile_session_proto::{PushReport, Response};

use super::{audit, CmdError, Context};

pub fn handle(ctx: &Context, full: bool) -> Result<Response, CmdError> {
    Ok(Response::Pushed(run(ctx, full)?))
}

/// A push a client asked for (`push`, or a command's `--push`), recorded
/// in the history.
pub fn run(ctx: &Context, full: bool) -> Result<PushReport, CmdError> {
    let report = ctx.core.push(full)?;
    audit::push(ctx, &report);
    Ok(report)
}

pub fn preview(ctx: &Context, full: bool) -> Result<Response, CmdError> {
    Ok(Response::Pushed(ctx.core.push_preview(full)?))
}
