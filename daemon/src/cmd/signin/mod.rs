//! `authenticate`: a sign-in, as 4D's `$authenticate` does it.
//!
//! 1. [`body`] checks the request ([`parse_body`]).
//! 2. The decision — the app's [`hook`] when it has one, else the static
//!    rules of [`decision`] — is taken *before* the write lock: a hook may
//!    take seconds and nothing else may wait on it. A refusal ends here:
//!    nothing written, an existing session left as it is.
//! 3. Under the write lock the decision meets the disk: no session for this
//!    app + `device.id` (or an empty `device.id`) → a new file, live at once;
//!    a session → its file edited in place ([`merge`]) by a checked rewrite,
//!    its status decided again ([`decision::status_of`]), live at once.
//!
//! `password` reaches the hook only; it is never stored or logged.

pub mod body;
pub mod decision;
pub mod hook;
pub mod merge;

use std::sync::Arc;
use std::time::Duration;

use mobile_session_proto::{AuthReply, Response, Status};
use serde_json::{Map, Value};

pub use body::parse_body;
use body::SignInBody;
use decision::{Admission, Decision, Existing};

use super::edit::{self, check_size};
use super::{CmdError, Context};
use crate::config::{Policy, SessionIdFormat};
use crate::core::Txn;
use crate::model::session::{validate, SessionRecord};
use crate::model::token;
use crate::store::{StoreError, WriteMode};

pub fn handle(ctx: &Context, body: &str) -> Result<Response, CmdError> {
    Ok(Response::Authenticated(sign_in(ctx, body)?))
}

fn sign_in(ctx: &Context, raw: &str) -> Result<AuthReply, CmdError> {
    let body = parse_body(raw)?;
    let config = ctx.core.config();
    let policy = config.policy_for(&body.folder, &body.app_id);
    let admission = match decide(&policy, &body) {
        Decision::Admit(a) => a,
        Decision::Refuse {
            status_text,
            user_info,
        } => {
            return Ok(AuthReply {
                success: false,
                id: None,
                status: None,
                token: None,
                status_text,
                user_info: user_info.map(|u| Value::Object(u).to_string()),
            });
        }
    };
    let mut txn = ctx.core.txn();
    match existing_session(&mut txn, &body) {
        Some((name, rec)) => sign_in_again(&mut txn, &body, &admission, &name, &rec),
        None => first_sign_in(&mut txn, config.session_id, &body, &admission),
    }
}

/// The hook's decision when the app has one, else the static rules'.
fn decide(policy: &Policy, body: &SignInBody) -> Decision {
    if policy.hook.is_empty() {
        let d = decision::by_rules(policy, body.email.as_deref().unwrap_or(""));
        if let Decision::Refuse { status_text, .. } = &d {
            tracing::info!(app = %body.folder, "sign-in refused by the policy: {status_text}");
        }
        return d;
    }
    let timeout = Duration::from_millis(policy.hook_timeout_ms);
    match hook::run(&policy.hook, timeout, body.raw(), &body.folder) {
        Ok(answer) => {
            if !answer.success {
                tracing::info!(app = %body.folder, "the hook refused the sign-in");
            }
            decision::by_hook(answer)
        }
        Err(e) => {
            let program = policy.hook.first().map_or("", String::as_str);
            tracing::warn!(app = %body.folder, hook = %program, "sign-in refused: the hook {e}");
            decision::hook_failed()
        }
    }
}

/// The session of this app + device, as the file says now.
fn existing_session(txn: &mut Txn<'_>, body: &SignInBody) -> Option<(String, Arc<SessionRecord>)> {
    let device = body.device_id.as_deref()?;
    let find = |txn: &Txn<'_>| {
        txn.views(|disk, _| {
            let team = body.team_id.as_deref().unwrap_or("");
            let (name, rec) = disk
                .app(&body.folder)?
                .find_device(&body.app_id, team, device)?;
            Some((name.to_string(), rec.clone()))
        })
    };
    // The file may have changed behind our back: re-read before deciding.
    let (name, _) = find(txn)?;
    txn.refresh_file(&body.folder, &name);
    find(txn)
}

fn first_sign_in(
    txn: &mut Txn<'_>,
    format: SessionIdFormat,
    body: &SignInBody,
    admission: &Admission,
) -> Result<AuthReply, CmdError> {
    let folder = &body.folder;
    let status = decision::status_of(admission.verify, None);
    let file = |id: &str| {
        let token = token::encode(&body.app_id, id, body.team_id.as_deref());
        let bytes = merge::new_file(body, id, status, &token, admission.user_info.as_ref());
        (token, bytes)
    };
    // Every check before the folder is created: a refusal leaves nothing.
    let mut id = new_session_id(format)?;
    let (mut token, mut bytes) = file(&id);
    check_size(bytes.len())?;
    validate(folder, &id, &bytes).map_err(|inv| {
        CmdError::internal(format!(
            "the new session file would be invalid: {}",
            inv.error
        ))
    })?;
    let created = txn.ensure_folder(folder)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match txn.write(folder, &id, &bytes, WriteMode::Create) {
            Ok(()) => break,
            // Random ids do not collide in practice, but a clash must not overwrite.
            Err(StoreError::Exists { .. }) if attempts < 8 => {
                id = new_session_id(format)?;
                (token, bytes) = file(&id);
            }
            Err(e) => {
                if created {
                    if let Err(undo) = txn.remove_folder_if_empty(folder) {
                        tracing::warn!(app = %folder, "cannot remove the app folder created for a failed sign-in: {undo}");
                    }
                }
                return Err(e.into());
            }
        }
    }
    txn.make_live(folder, &id, None);
    tracing::info!(app = %folder, id = %id, %status, "new session");
    Ok(admitted(id, status, token, admission))
}

fn sign_in_again(
    txn: &mut Txn<'_>,
    body: &SignInBody,
    admission: &Admission,
    name: &str,
    rec: &Arc<SessionRecord>,
) -> Result<AuthReply, CmdError> {
    let folder = &body.folder;
    let mut token = String::new();
    let mut decided = rec.status;
    // Decided against the file as each attempt reads it: a status another
    // writer set meanwhile is the one re-evaluated.
    txn.rewrite(folder, name, |file| -> Result<_, CmdError> {
        let (current, doc) =
            edit::read_valid(folder, name, &file.bytes, "the session file of this device")?;
        token = doc
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let existing = Existing {
            status: current.status,
            email_changed: decision::email_changed(current.email.as_deref(), body.email.as_deref()),
        };
        decided = decision::status_of(admission.verify, Some(existing));
        let edits = merge::again_edits(body, &doc, decided, admission.user_info.as_ref());
        if edits.is_empty() {
            return Ok(None);
        }
        let new = edit::apply(folder, name, &file.bytes, &edits)?;
        Ok(Some(new))
    })?;
    // Live at once, unless an unpushed edit made the live copy differ from
    // what we started from: then the server keeps serving the live copy.
    txn.make_live(folder, name, Some(rec));
    let status = txn
        .views(|_, live| live.get(folder, name).map(|l| l.status))
        .unwrap_or(decided);
    tracing::info!(app = %folder, id = %rec.id, %status, "session signed in again");
    Ok(admitted(rec.id.to_string(), status, token, admission))
}

fn admitted(id: String, status: Status, token: String, admission: &Admission) -> AuthReply {
    AuthReply {
        success: true,
        id: Some(id),
        status: Some(status),
        // The apps take a missing token for "pending".
        token: (status == Status::Accepted).then_some(token),
        status_text: admission.text_for(status),
        user_info: admission.user_info.as_ref().map(user_info_text),
    }
}

fn user_info_text(u: &Map<String, Value>) -> String {
    Value::Object(u.clone()).to_string()
}

/// A new session id from the OS random source: 40 lower-case hex
/// characters, or a 4D session UUID (32 upper-case hex, version 4).
fn new_session_id(format: SessionIdFormat) -> Result<String, CmdError> {
    let mut b = [0u8; 20];
    getrandom::fill(&mut b)
        .map_err(|e| CmdError::internal(format!("the OS random source failed: {e}")))?;
    Ok(format_id(format, b))
}

fn format_id(format: SessionIdFormat, mut b: [u8; 20]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(40);
    match format {
        SessionIdFormat::Hex40 => b.iter().for_each(|x| {
            let _ = write!(out, "{x:02x}");
        }),
        SessionIdFormat::Uuid => {
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            b[..16].iter().for_each(|x| {
                let _ = write!(out, "{x:02X}");
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::is_session_name;

    #[test]
    fn session_ids() {
        let hex = format_id(SessionIdFormat::Hex40, [0xAB; 20]);
        assert_eq!(hex, "ab".repeat(20));
        let uuid = format_id(SessionIdFormat::Uuid, [0xFF; 20]);
        assert_eq!(uuid, "FFFFFFFFFFFF4FFFBFFFFFFFFFFFFFFF");
        for f in [SessionIdFormat::Hex40, SessionIdFormat::Uuid] {
            let id = new_session_id(f).unwrap();
            assert!(is_session_name(&id), "{id}");
            assert_ne!(id, new_session_id(f).unwrap());
        }
    }
}
