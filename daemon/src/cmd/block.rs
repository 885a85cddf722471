//! `block SESSION… [--reason TEXT]`, `block --app APP --device ID`,
//! `unblock --app APP --device ID`, and the check every sign-in makes.
//!
//! A block puts (app folder, `device.id`) on the deny-list (written before
//! anything else), then deletes every session of that device in that app —
//! the ones named and any duplicate, which would otherwise keep the device
//! in — and drops them from the live view at once: their tokens stop
//! working without a push. Its next sign-in is refused, whatever the policy
//! and before any hook runs, with the reason as `statusText`. All under the
//! write lock, which sign-ins take to write too: a sign-in cannot slip a new
//! session in between.

use mobile_session_proto::{
    AuthReply, BlockEntry, BlockReport, BlockRequest, BlockTarget, ErrorCode, Response, Status,
};
use serde_json::{json, Value};

use super::body::is_printable;
use super::resolve::{resolve_all, resolve_app, Target};
use super::signin::body::{SignInBody, MAX_DEVICE_ID};
use super::{audit, changed_session, CmdError, Context};
use crate::model::names::is_app_folder_name;
use crate::model::seen::now_ms;
use crate::model::view::{DiskView, LiveView};

/// The longest `--reason`: it is shown on the device.
pub const MAX_REASON: usize = 1024;
/// What a blocked device is told when no reason was given.
pub const BLOCKED_TEXT: &str = "This device is blocked on this server.";

pub fn block(ctx: &Context, req: BlockRequest) -> Result<Response, CmdError> {
    let reason = req.reason.map(check_reason).transpose()?;
    let mut txn = ctx.core.txn();
    let mut devices: Vec<(String, String)> = match req.target {
        BlockTarget::Sessions(names) => {
            let targets = txn.views(|disk, live| resolve_all(disk, live, &names))?;
            let found = txn.views(|disk, live| {
                targets
                    .iter()
                    .map(|t| device_of(disk, live, t).map(|d| (t.folder.clone(), d)))
                    .collect::<Vec<_>>()
            });
            let mut out = Vec::with_capacity(found.len());
            for (t, d) in targets.iter().zip(found) {
                out.push(d.ok_or_else(|| {
                    CmdError::bad_request(format!(
                        "{}/{} has no device.id: a block could not keep its device out; \
                         `mobile-session delete` deletes it",
                        t.folder, t.name
                    ))
                })?);
            }
            out
        }
        BlockTarget::Device { app, device } => {
            check_device(&device)?;
            vec![(folder_of(ctx, &app)?, device)]
        }
    };
    devices.sort();
    devices.dedup();
    let new = devices
        .iter()
        .map(|(app, device)| entry(ctx, app, device, &reason));
    let entries =
        ctx.state.blocks.add(new.collect()).map_err(|e| {
            CmdError::new(ErrorCode::Io, format!("cannot write the deny-list: {e}"))
        })?;
    let mut sessions = Vec::new();
    for (folder, device) in &devices {
        let after = json!({"device": device, "reason": reason});
        let victims = txn.views(|disk, live| sessions_of(disk, live, folder, device));
        if victims.is_empty() {
            audit::record(ctx, "block", Some(folder), None, Value::Null, after.clone());
        }
        for (t, before) in victims {
            let changed = super::delete_now(&mut txn, &t)?;
            tracing::info!(app = %t.folder, id = %t.name, "blocked: session deleted and out of the live view");
            let (app, id) = (Some(t.folder.as_str()), Some(t.name.as_str()));
            audit::record(ctx, "block", app, id, audit::status(before), after.clone());
            sessions.push(changed_session(ctx, &t, None, changed));
        }
    }
    Ok(Response::Blocks(BlockReport { entries, sessions }))
}

pub fn unblock(ctx: &Context, app: &str, device: &str) -> Result<Response, CmdError> {
    check_device(device)?;
    let folder = folder_of(ctx, app)?;
    let write_error = |e: std::io::Error| {
        CmdError::new(ErrorCode::Io, format!("cannot write the deny-list: {e}"))
    };
    let mut lifted = ctx
        .state
        .blocks
        .remove(&folder, device)
        .map_err(write_error)?;
    if lifted.is_none() && folder != app {
        // An entry made under the APP as given (before the app had a folder).
        lifted = ctx.state.blocks.remove(app, device).map_err(write_error)?;
    }
    if let Some(e) = &lifted {
        tracing::info!(app = %e.app, "device unblocked");
        let before = json!({"device": e.device, "reason": e.reason});
        audit::record(ctx, "unblock", Some(&e.app), None, before, Value::Null);
    }
    Ok(Response::Blocks(BlockReport {
        entries: lifted.into_iter().collect(),
        sessions: Vec::new(),
    }))
}

/// The answer to a sign-in of a blocked device (logged and recorded), or
/// `None` when the device is not blocked.
pub fn refusal(ctx: &Context, body: &SignInBody) -> Option<AuthReply> {
    let device = body.device_id.as_deref()?;
    let entry = ctx.state.blocks.find(&body.folder, &body.app_id, device)?;
    tracing::info!(app = %body.folder, "sign-in refused: the device is blocked");
    audit::refused(ctx, &body.folder);
    Some(AuthReply {
        success: false,
        id: None,
        status: None,
        token: None,
        status_text: entry.reason.unwrap_or_else(|| BLOCKED_TEXT.to_string()),
        user_info: None,
    })
}

/// The folder an APP names; one no folder has yet, taken as given (the
/// device is kept out of the app it will sign in to).
fn folder_of(ctx: &Context, app: &str) -> Result<String, CmdError> {
    match ctx
        .core
        .read_views(|disk, live| resolve_app(disk, live, app))
    {
        Err(e) if e.code == ErrorCode::NotFound && is_app_folder_name(app) => Ok(app.to_string()),
        other => other,
    }
}

/// The `device.id` of a session: its file's, else its live copy's.
fn device_of(disk: &DiskView, live: &LiveView, t: &Target) -> Option<String> {
    let on_disk = disk
        .get(&t.key())
        .and_then(|e| e.state.as_ref().ok().cloned());
    let rec = on_disk.or_else(|| live.get_key(&t.key()).cloned())?;
    rec.device_id
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

/// Every session of `device` in `folder`, on disk or live only, with its
/// status.
fn sessions_of(
    disk: &DiskView,
    live: &LiveView,
    folder: &str,
    device: &str,
) -> Vec<(Target, Option<Status>)> {
    let mut out: Vec<(Target, Option<Status>)> = Vec::new();
    let target = |name: &str| Target {
        folder: folder.to_string(),
        name: name.to_string(),
    };
    for e in disk
        .app(folder)
        .into_iter()
        .flat_map(|a| a.sessions.values())
    {
        if let Ok(r) = &e.state {
            if r.device_id.as_deref() == Some(device) {
                out.push((target(&e.name), Some(r.status)));
            }
        }
    }
    for key in live.keys().filter(|k| k.folder() == folder) {
        let Some(r) = live.get_key(key) else { continue };
        let known = out.iter().any(|(t, _)| t.key() == *key);
        if !known && r.device_id.as_deref() == Some(device) {
            out.push((target(&r.id), Some(r.status)));
        }
    }
    out
}

fn entry(ctx: &Context, app: &str, device: &str, reason: &Option<String>) -> BlockEntry {
    let uid = ctx.caller.uid;
    BlockEntry {
        app: app.to_string(),
        device: device.to_string(),
        reason: reason.clone(),
        time_ms: now_ms(),
        uid,
        user: uid.and_then(|u| {
            let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u)).ok()??;
            Some(user.name)
        }),
        process: ctx.caller.process(),
    }
}

fn check_reason(reason: String) -> Result<String, CmdError> {
    if reason.len() > MAX_REASON {
        return Err(CmdError::bad_request(format!(
            "--reason is {} bytes long; at most {MAX_REASON}",
            reason.len()
        )));
    }
    if !reason.chars().all(is_printable) {
        return Err(CmdError::bad_request(
            "--reason contains a character that is not printable",
        ));
    }
    Ok(reason)
}

fn check_device(device: &str) -> Result<(), CmdError> {
    if device.is_empty() || device.len() > MAX_DEVICE_ID {
        return Err(CmdError::bad_request(format!(
            "--device is {} bytes long; a device.id has 1 to {MAX_DEVICE_ID}",
            device.len()
        )));
    }
    if device.chars().any(char::is_control) {
        return Err(CmdError::bad_request(
            "--device contains a control character; a device.id has none",
        ));
    }
    Ok(())
}
