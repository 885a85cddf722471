//! `verify TOKEN`: the hot path. Answered inline from the live view (no
//! blocking pool, no disk): a decode on the stack and one hash lookup, and
//! the sighting stamped in the live record (`state::seen`). Anything that
//! is not a token of a live session is `unknown`. The connection offers
//! each request frame to [`answer_in_place`] first: a verify is then read
//! and answered without decoding it into a `Request` or building a
//! `Response`, and nothing is allocated (a sighting is queued at most once
//! between two flushes of the journal).
use std::cell::RefCell;

use bytes::BytesMut;
use mobile_session_proto::{hot, Response, Role, Status, VerifyReply, VerifyStatus};

use super::{permits, Context};
use crate::model::names::write_app_folder;
use crate::model::session::{token_hash, SessionRecord};
use crate::model::token;

/// What a live session answers.
fn verdict(rec: &SessionRecord) -> VerifyStatus {
    match rec.status {
        Status::Accepted => VerifyStatus::Accepted,
        Status::Pending => VerifyStatus::Pending,
    }
}

/// Hands the verdict on `token` to `f`: its status, and for a live
/// session its app folder and id as stored.
fn check<R>(
    ctx: &Context,
    token: &str,
    f: impl FnOnce(VerifyStatus, Option<&str>, Option<&str>) -> R,
) -> R {
    thread_local! {
        // The folder of every token checked on this thread: no allocation
        // for a token that turns out unknown.
        static FOLDER: RefCell<String> = RefCell::new(String::with_capacity(256));
    }
    // Taken by whichever verdict is given.
    let mut f = Some(f);
    // The token as its session's file holds it: found by its hash alone.
    let hash = token_hash(token);
    let found = ctx.core.read_live(|live| {
        let (key, rec) = live.by_token(hash)?;
        let folder = key.folder();
        ctx.state.seen.touch(folder, rec);
        let f = f.take()?;
        Some(f(verdict(rec), Some(folder), Some(&rec.id)))
    });
    if let Some(r) = found {
        return r;
    }
    // Any other form (padded, URL-safe, after `Bearer `), or not live:
    // decoded, and looked up by what it says.
    let found = token::with_claims(token, |c| {
        FOLDER.with_borrow_mut(|folder| {
            write_app_folder(folder, &c.app_id, Some(&c.team_id));
            ctx.core.read_live(|live| match live.get(folder, &c.id) {
                Some(rec) if rec.is_of(&c.app_id, &c.team_id) => {
                    ctx.state.seen.touch(folder, rec);
                    let f = f.take()?;
                    Some(f(verdict(rec), Some(folder.as_str()), Some(&rec.id)))
                }
                _ => None,
            })
        })
    });
    match (found.flatten(), f) {
        (Some(r), _) => r,
        (None, Some(f)) => f(VerifyStatus::Unknown, None, None),
        (None, None) => unreachable!("a verdict taken is a verdict given"),
    }
}

pub fn reply(ctx: &Context, token: &str) -> VerifyReply {
    check(ctx, token, |status, app, id| VerifyReply {
        status,
        app: app.map(str::to_string),
        id: id.map(str::to_string),
    })
}

pub fn handle(ctx: &Context, token: &str) -> Response {
    Response::Verified(reply(ctx, token))
}

/// Answers a request frame into `out` if it is a verify; false for any
/// other request, which is decoded and run as usual.
pub fn answer_in_place(ctx: &Context, body: &[u8], out: &mut BytesMut) -> bool {
    // Every caller may verify; should that change, the usual path refuses.
    if !permits(ctx.role, Role::Reader) {
        return false;
    }
    let Some(token) = hot::verify_token(body) else {
        return false;
    };
    check(ctx, token, |status, app, id| {
        hot::put_verified(out, status, app, id)
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_count::made;
    use mobile_session_proto::connection::{decode, encode};
    use mobile_session_proto::Request;
    use mobile_session_tests::fixtures::{SEED_ID, SEED_TOKEN};

    /// Answers `token` in place `n` times; the allocations made meanwhile.
    fn allocations(ctx: &Context, token: &str, n: usize) -> (u64, Response) {
        let body = encode(&Request::Verify {
            token: token.to_string(),
        })
        .unwrap();
        let mut out = BytesMut::with_capacity(4096);
        // The first answer makes this thread's buffers.
        assert!(answer_in_place(ctx, &body, &mut out));
        let before = made();
        for _ in 0..n {
            out.clear();
            assert!(answer_in_place(ctx, &body, &mut out));
        }
        let after = made();
        (after - before, decode(&out[4..]).unwrap())
    }

    #[test]
    fn a_verify_answered_in_place_allocates_nothing() {
        let (_dir, ctx) = super::super::tests::context(Role::Reader);
        let padded = format!("{SEED_TOKEN}{}", "=".repeat((4 - SEED_TOKEN.len() % 4) % 4));
        let unknown = crate::model::token::encode("com.x", "abcd", Some("T"));
        // The file's token, another form of it (decoded), and no session's.
        for (token, status) in [
            (SEED_TOKEN, VerifyStatus::Accepted),
            (padded.as_str(), VerifyStatus::Accepted),
            (unknown.as_str(), VerifyStatus::Unknown),
        ] {
            let (n, answer) = allocations(&ctx, token, 1000);
            assert_eq!(n, 0, "{token}");
            // And the answer is the one the usual path gives.
            assert_eq!(answer, handle(&ctx, token));
            let Response::Verified(v) = answer else {
                panic!("{answer:?}")
            };
            assert_eq!(v.status, status);
            if status == VerifyStatus::Accepted {
                assert_eq!(v.id.as_deref(), Some(SEED_ID));
            }
        }
        // Another request is left to the decoder.
        let other = encode(&Request::Status).unwrap();
        assert!(!answer_in_place(&ctx, &other, &mut BytesMut::new()));
    }
}
