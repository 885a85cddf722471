//! `logout TOKEN` (4D's `$logout`): deletes the session's file and drops it
//! from the live view at once — its token stops working without a push.
//! Only a live, accepted session may log out; any other token is
//! `UnknownToken`.

use mobile_session_proto::Response;

use super::resolve::resolve_token;
use super::{audit, changed_session, CmdError, Context};

pub fn handle(ctx: &Context, token: &str) -> Result<Response, CmdError> {
    let mut txn = ctx.core.txn();
    let session = txn.views(|disk, live| resolve_token(disk, live, token))?;
    let t = &session.target;
    // A file deleted by hand and not pushed yet: still live until now.
    let changed = super::delete_now(&mut txn, t)?;
    tracing::info!(app = %t.folder, id = %t.name, "logged out: session deleted");
    // Only an accepted session may log out.
    let before = Some(mobile_session_proto::Status::Accepted);
    audit::session(ctx, "logout", t, before, None);
    Ok(Response::LoggedOut(changed_session(ctx, t, None, changed)))
}
