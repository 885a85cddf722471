//! `refresh`: rescans every folder into the disk view (counted in
//! `status`), then answers as `apps` does.
use mobile_session_proto::Response;

use super::{apps, CmdError, Context};

pub fn handle(ctx: &Context) -> Result<Response, CmdError> {
    ctx.core.txn().rescan(true)?;
    Ok(Response::Apps(apps::rows(ctx)))
}
