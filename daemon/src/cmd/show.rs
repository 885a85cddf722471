//! `show SESSION`: the file's whole JSON object (tokens redacted for readers).
use mobile_session_proto::{ErrorCode, Response, Role};

use crate::error::CmdError;
use crate::state::State;

pub fn handle(state: &State, role: Role, arg: &str) -> Result<Response, CmdError> {
    let target = state.resolve_one(arg)?;
    let bytes = state.read(&target)?;
    let text = std::str::from_utf8(crate::session::strip_bom(&bytes)).map_err(|_| {
        CmdError::new(
            ErrorCode::InvalidFile,
            format!("{} is not UTF-8 text", state.path_of(&target).display()),
        )
    })?;
    let mut doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        CmdError::new(
            ErrorCode::InvalidFile,
            format!(
                "{} is not well-formed JSON: {e}",
                state.path_of(&target).display()
            ),
        )
    })?;
    if role == Role::Admin {
        // Every byte as stored.
        return Ok(Response::Show {
            json: text.to_string(),
        });
    }
    crate::redact::session(&mut doc);
    let json = serde_json::to_string_pretty(&doc).map_err(|e| CmdError::internal(e.to_string()))?;
    Ok(Response::Show { json })
}
