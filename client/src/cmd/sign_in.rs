//! `verify`, `authenticate`: answers whose exit code says what they found.

use mobile_session::{AuthReply, Client, ClientError, ErrorCode, Status, VerifyStatus};

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

pub async fn authenticate(client: &Client, body: &str, view: &View) -> anyhow::Result<u8> {
    let reply = match client.authenticate(body).await {
        Ok(r) => r,
        Err(ClientError::Daemon(e)) if e.code == ErrorCode::Refused => {
            // A refusal is an answer: JSON readers get the same shape as
            // for any sign-in, `success` false (README.md, "JSON output").
            if view.json {
                let refused = AuthReply {
                    success: false,
                    id: None,
                    status: None,
                    token: None,
                    status_text: e.message.clone(),
                    user_info: None,
                };
                emit(&render::authenticated(&refused, view))?;
            }
            eprintln!("refused: {}", e.message);
            return Ok(EXIT_UNKNOWN);
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
