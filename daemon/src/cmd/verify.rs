//! `verify TOKEN`: the hot path. Answered inline from the live view (no
//! blocking pool, no disk): a decode on the stack and one hash lookup, and
//! the sighting stamped in the live record (`state::seen`).
//! Anything that is not a token of a live session is `unknown`.
use std::cell::RefCell;

use mobile_session_proto::{Response, Status, VerifyReply, VerifyStatus};

use super::Context;
use crate::model::names::write_app_folder;
use crate::model::token;

pub fn reply(ctx: &Context, token: &str) -> VerifyReply {
    thread_local! {
        // The folder of every token checked on this thread: no allocation
        // for a token that turns out unknown.
        static FOLDER: RefCell<String> = RefCell::new(String::with_capacity(256));
    }
    token::with_claims(token, |c| {
        FOLDER.with_borrow_mut(|folder| {
            write_app_folder(folder, &c.app_id, Some(&c.team_id));
            ctx.core.read_live(|live| match live.get(folder, &c.id) {
                Some(rec) if rec.is_of(&c.app_id, &c.team_id) => {
                    ctx.state.seen.touch(folder, rec);
                    VerifyReply {
                        status: match rec.status {
                            Status::Accepted => VerifyStatus::Accepted,
                            Status::Pending => VerifyStatus::Pending,
                        },
                        id: Some(rec.id.to_string()),
                        app: Some(folder.clone()),
                    }
                }
                _ => VerifyReply::unknown(),
            })
        })
    })
    .unwrap_or_else(VerifyReply::unknown)
}

pub fn handle(ctx: &Context, token: &str) -> Response {
    Response::Verified(reply(ctx, token))
}
