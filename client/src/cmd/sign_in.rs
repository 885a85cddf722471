//! `verify`, `authenticate`: answers whose exit code says what they found.

use mobile_session::{Client, ClientError, ErrorCode, Status, VerifyStatus};

use crate::exit::{emit, EXIT_PENDING, EXIT_UNKNOWN};
use crate::render::{self, View};

pub async fn verify(client: &Client, token: &str, view: &View) -> anyhow::Result<u8> {
    let reply = client.verify(token).await?;
    emit(&render::verify(&reply, view))?;
    Ok(match reply.status {
        VerifyStatus::Accepted => 0,
        VerifyStatus::Pending => EXIT_PENDING,
        VerifyStatus::Unknown => EXIT_UNKNOWN,
    })
}

/// The daemon's answer to `user-info` or `logout`; a failure it answered
/// (an unknown token, a bad body) is also printed as `{"ok": false, …}` for
/// JSON readers, before the usual error.
pub fn answered<T>(result: Result<T, ClientError>, view: &View) -> anyhow::Result<T> {
    match result {
        Err(ClientError::Daemon(e)) if view.json => {
            emit(&render::not_ok(&e.message))?;
            Err(ClientError::Daemon(e).into())
        }
        r => Ok(r?),
    }
}

pub async fn authenticate(
    client: &Client,
    body: &str,
    ip: Option<&str>,
    view: &View,
) -> anyhow::Result<u8> {
    let reply = match client.authenticate_from(body, ip).await {
        Ok(r) => r,
        Err(ClientError::Daemon(e)) if e.code == ErrorCode::Refused => {
            // A refusal is an answer: JSON readers get the same shape as
            // for any sign-in, `success` false (README.md, "JSON output").
            if view.json {
                emit(&render::authenticated(
                    &render::not_signed_in(&e.message),
                    view,
                ))?;
            }
            eprintln!("refused: {}", e.message);
            return Ok(EXIT_UNKNOWN);
        }
        // A body the daemon cannot use (not JSON, a field missing or of the
        // wrong type, too large) still gets 4D's answer, for the front to
        // pass on; the exit code says what went wrong.
        Err(e @ (ClientError::Daemon(_) | ClientError::TooLarge { .. })) => {
            if view.json {
                emit(&render::authenticated(&render::not_signed_in(&e), view))?;
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    emit(&render::authenticated(&reply, view))?;
    Ok(match (reply.success, reply.status) {
        (false, _) => EXIT_UNKNOWN,
        (true, Some(Status::Pending)) => EXIT_PENDING,
        (true, _) => 0,
    })
}
