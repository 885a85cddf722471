//! `logout TOKEN` (4D's `$logout`): deletes the session's file and drops it
//! from the live view at once — its token stops working without a push.
//! Only a live, accepted session may log out; any other token is
//! `UnknownToken`.

use mobile_session_proto::Response;

use super::resolve::resolve_token;
use super::{changed_session, CmdError, Context};

pub fn handle(ctx: &Context, token: &str) -> Result<Response, CmdError> {
    let mut txn = ctx.core.txn();
    let session = txn.views(|disk, live| resolve_token(disk, live, token))?;
    let t = &session.target;
    let deleted = match txn.delete(&t.folder, &t.name) {
        Ok(()) => true,
        // Deleted by hand and not pushed yet: still live until now.
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e.into()),
    };
    let dropped = txn.drop_live(&t.folder, &t.name);
    tracing::info!(app = %t.folder, id = %t.name, "logged out: session deleted");
    Ok(Response::LoggedOut(changed_session(
        ctx,
        t,
        None,
        deleted || dropped,
    )))
}
