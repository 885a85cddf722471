//! `path SESSION`: the absolute path of the session file.
use mobile_session_proto::Response;

use super::resolve::resolve_session;
use super::{path_text, CmdError, Context};

pub fn handle(ctx: &Context, arg: &str) -> Result<Response, CmdError> {
    let t = ctx
        .core
        .read_views(|disk, live| resolve_session(disk, live, arg))?;
    Ok(Response::Path {
        path: path_text(ctx, &t),
    })
}
