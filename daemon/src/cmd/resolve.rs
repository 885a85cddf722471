//! Turns the SESSION and APP arguments into files: a SESSION is a full id,
//! a unique prefix of at least 4 hex characters, or `APP/ID`; an APP is a
//! folder name, or an app id or an app's name when only one folder has it.
//!
//! Resolution reads the views only (the app labels are cached in the disk
//! view), so it does no I/O and may run under the view locks.

use std::sync::Arc;

use mobile_session_proto::Status;

use crate::model::app::AppLabel;
use crate::model::names::{app_folder, is_app_folder_name, is_plain_name, SessionKey};
use crate::model::session::SessionRecord;
use crate::model::token;
use crate::model::view::{DiskView, LiveView};

use super::error::CmdError;

/// A resolved session: its folder and file name (or live id if the file is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub folder: String,
    pub name: String,
}

impl Target {
    pub fn key(&self) -> SessionKey {
        SessionKey::new(&self.folder, &self.name)
    }
}

pub use mobile_session_proto::MIN_ID_PREFIX as MIN_PREFIX;

/// The session a mobile app's token names, for `user-info` and `logout`.
#[derive(Debug, Clone)]
pub struct TokenSession {
    pub target: Target,
    /// Its file's entry in the disk view, when the file is there and valid.
    pub disk: Option<Arc<SessionRecord>>,
}

/// Resolves a token (in any form `verify` takes) to its live, accepted
/// session: what the 4D server would serve a request of. Anything else —
/// not a token, no live session, a pending one — is `UnknownToken`, and the
/// message never repeats the token.
pub fn resolve_token(
    disk: &DiskView,
    live: &LiveView,
    token: &str,
) -> Result<TokenSession, CmdError> {
    let claims = token::decode(token)
        .ok_or_else(|| CmdError::unknown_token("this is not a session token"))?;
    let folder = app_folder(&claims.app_id, Some(&claims.team_id));
    let live = live
        .get(&folder, &claims.id)
        .filter(|l| l.is_of(&claims.app_id, &claims.team_id))
        .ok_or_else(|| CmdError::unknown_token("no live session has this token"))?;
    if live.status != Status::Accepted {
        return Err(CmdError::unknown_token(
            "the session of this token is pending: it is not signed in until it is accepted",
        ));
    }
    let entry = disk.get(&SessionKey::new(&folder, &claims.id));
    Ok(TokenSession {
        target: Target {
            name: entry.map_or_else(|| live.id.to_string(), |e| e.name.to_string()),
            folder,
        },
        disk: entry.and_then(|e| e.state.as_ref().ok().cloned()),
    })
}

fn check_plain(arg: &str, what: &str) -> Result<(), CmdError> {
    if arg.contains('\0') {
        return Err(CmdError::bad_request(format!(
            "{what} {arg:?} contains a NUL byte"
        )));
    }
    if arg.starts_with('/') {
        return Err(CmdError::bad_request(format!(
            "{what} {arg:?} is an absolute path; give a session id or APP/ID"
        )));
    }
    Ok(())
}

/// The folders that hold live sessions but are not in the disk view (their
/// folder was deleted since the last push); usually none.
fn live_only_folders<'a>(disk: &DiskView, live: &'a LiveView) -> Vec<&'a str> {
    let mut out: Vec<&str> = live
        .keys()
        .map(|k| k.folder())
        .filter(|f| disk.app(f).is_none())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Resolves an APP argument to a folder name.
pub fn resolve_app(disk: &DiskView, live: &LiveView, arg: &str) -> Result<String, CmdError> {
    check_plain(arg, "APP")?;
    if !is_plain_name(arg) || !is_app_folder_name(arg) {
        return Err(CmdError::bad_request(format!(
            "APP {arg:?} is not a plain folder name (no '/', '..' or leading '.')"
        )));
    }
    if disk.app(arg).is_some() {
        return Ok(arg.to_string());
    }
    let gone = live_only_folders(disk, live);
    if gone.contains(&arg) {
        return Ok(arg.to_string());
    }
    // An app id, else an app's name (as `apps` shows it), when only one
    // folder has it.
    let folders_where = |has: fn(&AppLabel, &str) -> bool| -> Vec<String> {
        disk.apps()
            .iter()
            .filter(|(folder, app)| has(&app.label(folder), arg))
            .map(|(folder, _)| folder.clone())
            .collect()
    };
    for (what, mut matches) in [
        ("app id", folders_where(|l, a| l.app_id == a)),
        (
            "app name",
            folders_where(|l, a| l.name.as_deref() == Some(a)),
        ),
    ] {
        match matches.len() {
            0 => continue,
            1 => return Ok(matches.remove(0)),
            _ => {
                return Err(CmdError::ambiguous(format!(
                    "{what} {arg:?} names several folders: {}; give the folder name",
                    matches.join(", ")
                )))
            }
        }
    }
    Err(CmdError::not_found(format!(
        "no app folder, app id or app name {arg:?}; `mobile-session apps` lists them"
    )))
}

/// Resolves a SESSION argument against the disk view and the live view
/// (a live session whose file was deleted can still be named).
pub fn resolve_session(disk: &DiskView, live: &LiveView, arg: &str) -> Result<Target, CmdError> {
    resolve_among(disk, live, &disk.deleted_but_live(live), arg)
}

/// [`resolve_session`] with the deleted-but-live sessions listed once for
/// many arguments.
fn resolve_among(
    disk: &DiskView,
    live: &LiveView,
    deleted: &[(SessionKey, Arc<SessionRecord>)],
    arg: &str,
) -> Result<Target, CmdError> {
    check_plain(arg, "SESSION")?;
    let (app, id) = match arg.split_once('/') {
        Some((app, id)) => {
            if id.contains('/') {
                return Err(CmdError::bad_request(format!(
                    "SESSION {arg:?} has more than one '/'; use APP/ID"
                )));
            }
            (Some(resolve_app(disk, live, app)?), id)
        }
        None => (None, arg),
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CmdError::bad_request(format!(
            "SESSION {arg:?} is not a session id: ids are hexadecimal"
        )));
    }
    if id.len() < MIN_PREFIX {
        return Err(CmdError::bad_request(format!(
            "SESSION {arg:?} is too short: give at least {MIN_PREFIX} hex characters"
        )));
    }
    let want = id.to_ascii_lowercase();
    let in_app = |f: &str| app.as_deref().is_none_or(|a| a == f);
    let mut candidates: Vec<Target> = Vec::new();
    for (folder, a) in disk.apps() {
        if !in_app(folder) {
            continue;
        }
        for (key, e) in a.sessions.range(want.clone()..) {
            if !key.starts_with(&want) {
                break;
            }
            candidates.push(Target {
                folder: folder.clone(),
                name: e.name.to_string(),
            });
        }
    }
    for (key, rec) in deleted {
        if in_app(key.folder()) && key.id().starts_with(&want) {
            candidates.push(Target {
                folder: key.folder().to_string(),
                name: rec.id.to_string(),
            });
        }
    }
    // A full id wins over longer ids it happens to prefix.
    if candidates
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case(&want))
    {
        candidates.retain(|t| t.name.eq_ignore_ascii_case(&want));
    }
    candidates.sort_by(|a, b| (&a.folder, &a.name).cmp(&(&b.folder, &b.name)));
    match candidates.len() {
        0 => Err(CmdError::not_found(format!(
            "no session matches {arg:?}; `mobile-session sessions` lists them"
        ))),
        1 => Ok(candidates.remove(0)),
        _ => Err(CmdError::ambiguous(format!(
            "{arg:?} matches several sessions; give more characters or APP/ID:\n{}",
            candidates
                .iter()
                .map(|t| format!("  {}/{}", t.folder, t.name))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

/// Resolves every SESSION argument (at least one), without duplicates.
pub fn resolve_all(
    disk: &DiskView,
    live: &LiveView,
    args: &[String],
) -> Result<Vec<Target>, CmdError> {
    if args.is_empty() {
        return Err(CmdError::bad_request("no SESSION given"));
    }
    let deleted = disk.deleted_but_live(live);
    let mut out: Vec<Target> = Vec::with_capacity(args.len());
    for a in args {
        let t = resolve_among(disk, live, &deleted, a)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::AppLabel;
    use crate::model::session::{Fault, Invalid, SessionRecord};
    use crate::model::view::{push_incremental, DiskEntry};
    use mobile_session_proto::{ErrorCode, Status};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use std::sync::Arc;

    const FOLDERS: [&str; 3] = ["T.com.a", "com.a", "b"];

    fn views(
        files: &[(usize, String, bool)],
        removed: &[(usize, String)],
        push: bool,
    ) -> (DiskView, LiveView) {
        let mut disk = DiskView::default();
        let mut live = LiveView::default();
        for f in FOLDERS {
            let app_id = f.strip_prefix("T.").unwrap_or(f);
            disk.app_mut(f).meta.manifest_label = Some(AppLabel {
                app_id: app_id.into(),
                name: None,
                team_id: None,
            });
        }
        for (f, name, valid) in files {
            let state = if *valid {
                Ok(Arc::new(SessionRecord {
                    id: name.as_str().into(),
                    status: Status::Accepted,
                    device_id: None,
                    email: None,
                    device: "null".into(),
                    hash: 0,
                    claims: 0,
                    token_hash: 0,
                    seen: Default::default(),
                }))
            } else {
                Err(Invalid::new(Fault::Json, "x"))
            };
            let entry = DiskEntry {
                name: name.as_str().into(),
                state,
            };
            disk.insert(FOLDERS[f % FOLDERS.len()], entry);
        }
        if push {
            push_incremental(std::path::Path::new("/m"), &mut disk, &mut live);
        }
        for (f, name) in removed {
            disk.remove(&SessionKey::new(FOLDERS[f % FOLDERS.len()], name));
        }
        (disk, live)
    }

    fn arg() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-fA-F]{0,9}",
            "(T\\.com\\.a|com\\.a|b|\\.\\.|/x|\\.h|)/[0-9a-fA-F]{0,6}(/x)?",
            "(?s).{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any argument resolves to something in the views, or fails with
        /// a plain error; nothing panics.
        #[test]
        fn resolution_finds_only_what_is_there(
            files in vec((0..3usize, "[0-9a-fA-F]{4,8}", any::<bool>()), 0..12),
            removed in vec((0..3usize, "[0-9a-f]{4,8}"), 0..4),
            push in any::<bool>(),
            args in vec(arg(), 0..6),
        ) {
            let (disk, live) = views(&files, &removed, push);
            let deleted: Vec<SessionKey> = disk.deleted_but_live(&live).into_iter().map(|(k, _)| k).collect();
            for a in &args {
                match resolve_session(&disk, &live, a) {
                    Ok(t) => {
                        let id = a.rsplit('/').next().unwrap_or(a).to_ascii_lowercase();
                        prop_assert!(t.name.to_ascii_lowercase().starts_with(&id), "{:?} for {:?}", t, a);
                        prop_assert!(disk.get(&t.key()).is_some() || deleted.contains(&t.key()), "{:?}", t);
                    }
                    Err(e) => prop_assert!(matches!(e.code, ErrorCode::BadRequest | ErrorCode::NotFound | ErrorCode::Ambiguous), "{:?}", e),
                }
                match resolve_app(&disk, &live, a) {
                    Ok(f) => prop_assert!(disk.app(&f).is_some() || live.keys().any(|k| k.folder() == f)),
                    Err(e) => prop_assert!(matches!(e.code, ErrorCode::BadRequest | ErrorCode::NotFound | ErrorCode::Ambiguous), "{:?}", e),
                }
            }
            if let Ok(all) = resolve_all(&disk, &live, &args) {
                prop_assert!(!all.is_empty() && all.len() <= args.len());
                for (i, t) in all.iter().enumerate() {
                    prop_assert!(!all[i + 1..].contains(t));
                }
            }
        }
    }
}
