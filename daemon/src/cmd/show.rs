//! `show SESSION`: the file's whole JSON object — every byte as stored for
//! admins, even when the file is invalid; for readers, parsed and
//! re-printed with the session token and the device's push token redacted
//! (an invalid file cannot be redacted, so readers get an error).
use mobile_session_proto::{ErrorCode, Response, Role};

use super::resolve::resolve_session;
use super::{read_error, redact, CmdError, Context};
use crate::model::session::strip_bom;

pub fn handle(ctx: &Context, arg: &str) -> Result<Response, CmdError> {
    let t = ctx
        .core
        .read_views(|disk, live| resolve_session(disk, live, arg))?;
    let path = ctx.core.store().session_path(&t.folder, &t.name);
    let file = ctx
        .core
        .store()
        .read(&t.folder, &t.name)
        .map_err(|e| read_error(ctx, &t, e))?;
    if ctx.role == Role::Admin {
        // As stored, valid or not: an invalid file is when an admin looks.
        // Bytes that are not UTF-8 show as U+FFFD.
        let text = String::from_utf8_lossy(strip_bom(&file.bytes));
        return Ok(Response::Show {
            json: text.into_owned(),
        });
    }
    let text = std::str::from_utf8(strip_bom(&file.bytes)).map_err(|_| {
        CmdError::new(
            ErrorCode::InvalidFile,
            format!("{} is not UTF-8 text", path.display()),
        )
    })?;
    let mut doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        CmdError::new(
            ErrorCode::InvalidFile,
            format!("{} is not well-formed JSON: {e}", path.display()),
        )
    })?;
    redact::session(&mut doc);
    let json = serde_json::to_string_pretty(&doc).map_err(|e| CmdError::internal(e.to_string()))?;
    Ok(Response::Show { json })
}
