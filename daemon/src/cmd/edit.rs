//! A session file edited in place, member by member — what a sign-in again
//! and `user-info` share: read it as valid (an invalid file is left
//! untouched), apply the edits to its text (every other byte kept), and
//! check the result is still a valid file within the size limit.

use mobile_session_proto::ErrorCode;
use serde_json::Value;

use super::CmdError;
use crate::model::session::{strip_bom, validate, with_members, SessionRecord};
use crate::store::MAX_SESSION_FILE;

/// One member to set: its path from the top-level object, and its value.
pub type Edit<'a> = (Vec<&'a str>, Value);

/// The value at `path` in `doc`, if every step is an object that has it.
pub fn lookup<'v>(doc: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(doc, |v, k| v.as_object()?.get(*k))
}

/// The record and the parsed document of a session file about to be
/// edited; `what` names it in the error when it is invalid.
pub fn read_valid(
    folder: &str,
    name: &str,
    bytes: &[u8],
    what: &str,
) -> Result<(SessionRecord, Value), CmdError> {
    let rec = valid_record(folder, name, bytes, what)?;
    let doc: Value = serde_json::from_slice(strip_bom(bytes))
        .map_err(|e| CmdError::internal(format!("a valid session no longer parses: {e}")))?;
    Ok((rec, doc))
}

/// The record of a session file about to be rewritten; an invalid file is
/// an `InvalidFile` error naming it (`what`) and its code.
pub fn valid_record(
    folder: &str,
    name: &str,
    bytes: &[u8],
    what: &str,
) -> Result<SessionRecord, CmdError> {
    validate(folder, name, bytes).map_err(|inv| {
        CmdError::new(
            ErrorCode::InvalidFile,
            format!(
                "{what} is invalid (code {}: {}); it is left untouched — fix or delete it first",
                inv.code(),
                inv.error
            ),
        )
    })
}

/// The file's bytes with `edits` applied in place, refused if the result
/// would pass the size limit or no longer be a valid session.
pub fn apply(
    folder: &str,
    name: &str,
    bytes: &[u8],
    edits: &[Edit<'_>],
) -> Result<Vec<u8>, CmdError> {
    let new = with_members(bytes, edits)
        .ok_or_else(|| CmdError::internal("cannot edit the session file in place"))?;
    check_size(new.len())?;
    validate(folder, name, &new).map_err(|inv| {
        CmdError::internal(format!(
            "the edit would make the session file invalid: {}",
            inv.error
        ))
    })?;
    Ok(new)
}

/// A session file may not pass the store's limit: refused before anything
/// is written.
pub fn check_size(len: usize) -> Result<(), CmdError> {
    if len as u64 > MAX_SESSION_FILE {
        return Err(CmdError::bad_request(format!(
            "the session file would be {len} bytes, over the limit of {MAX_SESSION_FILE} bytes \
             for a session file; nothing was written"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let v = serde_json::json!({"a": {"b": 1}, "c": 2});
        assert_eq!(lookup(&v, &["a", "b"]), Some(&serde_json::json!(1)));
        assert_eq!(lookup(&v, &["c", "d"]), None);
        assert_eq!(lookup(&v, &[]), Some(&v));
    }

    #[test]
    fn size_limit() {
        assert!(check_size(MAX_SESSION_FILE as usize).is_ok());
        let e = check_size(MAX_SESSION_FILE as usize + 1).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("nothing was written"));
    }
}
