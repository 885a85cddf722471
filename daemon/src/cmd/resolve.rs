//! Turns the SESSION and APP arguments of the CLI into files (design §4):
//! a full id, a unique prefix of at least 4 hex characters, or `APP/ID`;
//! APP is a folder name or an unambiguous app id.

use crate::error::CmdError;
use crate::session::{is_app_folder_name, is_plain_name};
use crate::store::SessionStore;
use crate::view::{split_key, DiskView, LiveView};

/// A resolved session: its folder and file name (or live id if the file is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub folder: String,
    pub name: String,
}

pub const MIN_PREFIX: usize = 4;

/// The app id a folder stands for: from a valid session, else its
/// `manifest.json`, else the folder name itself (Android).
pub fn folder_app_id(store: &SessionStore, disk: &DiskView, folder: &str) -> Option<String> {
    app_meta(store, disk, folder).0
}

/// `(app id, name, team id)` of a folder.
pub fn app_meta(
    store: &SessionStore,
    disk: &DiskView,
    folder: &str,
) -> (Option<String>, Option<String>, Option<String>) {
    let from_doc = |doc: &serde_json::Value| {
        let s = |a: &str, b: &str| {
            doc.get(a)
                .and_then(|v| v.get(b))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        (
            s("application", "id"),
            s("application", "name"),
            s("team", "id").filter(|t| !t.is_empty()),
        )
    };
    // The first valid session names the app (read from disk: the caches
    // do not keep whole files).
    let first_valid = disk
        .apps()
        .get(folder)
        .and_then(|a| a.sessions.values().find(|e| e.state.is_ok()));
    if let Some(bytes) = first_valid.and_then(|e| store.read(folder, &e.name).ok()) {
        if let Ok(doc) =
            serde_json::from_slice::<serde_json::Value>(crate::session::strip_bom(&bytes))
        {
            let meta = from_doc(&doc);
            if meta.0.is_some() {
                return meta;
            }
        }
    }
    if let Some(doc) = store.manifest(folder) {
        let meta = from_doc(&doc);
        if let Some(app) = &meta.0 {
            // The manifest may not name the team; the folder does.
            let team = meta.2.clone().or_else(|| {
                folder
                    .strip_suffix(app.as_str())
                    .and_then(|t| t.strip_suffix('.'))
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
            });
            return (meta.0, meta.1, team);
        }
    }
    (Some(folder.to_string()), None, None)
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

/// Resolves an APP argument to a folder name.
pub fn resolve_app(
    store: &SessionStore,
    disk: &DiskView,
    live: &LiveView,
    arg: &str,
) -> Result<String, CmdError> {
    check_plain(arg, "APP")?;
    if !is_plain_name(arg) || !is_app_folder_name(arg) {
        return Err(CmdError::bad_request(format!(
            "APP {arg:?} is not a plain folder name (no '/', '..' or leading '.')"
        )));
    }
    if disk.apps().contains_key(arg) || live_folders(live).any(|f| f == arg) {
        return Ok(arg.to_string());
    }
    let mut folders: Vec<String> = disk.apps().keys().cloned().collect();
    folders.extend(live_folders(live).map(str::to_string));
    folders.sort();
    folders.dedup();
    let matches: Vec<String> = folders
        .into_iter()
        .filter(|f| f.ends_with(arg) && folder_app_id(store, disk, f).as_deref() == Some(arg))
        .collect();
    match matches.len() {
        0 => Err(CmdError::not_found(format!(
            "no app folder or app id {arg:?}; `mobile-session apps` lists them"
        ))),
        1 => Ok(matches.into_iter().next().unwrap_or_default()),
        _ => Err(CmdError::ambiguous(format!(
            "app id {arg:?} names several folders: {}; give the folder name",
            matches.join(", ")
        ))),
    }
}

fn live_folders(live: &LiveView) -> impl Iterator<Item = &str> {
    live.sessions.keys().map(|k| split_key(k).0)
}

/// Resolves a SESSION argument against the disk view and the live view
/// (a live session whose file was deleted can still be named).
pub fn resolve_session(
    store: &SessionStore,
    disk: &DiskView,
    live: &LiveView,
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
            (Some(resolve_app(store, disk, live, app)?), id)
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
    let mut candidates: Vec<Target> = Vec::new();
    let in_app = |f: &str| app.as_deref().is_none_or(|a| a == f);
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
    for (key, rec) in &live.sessions {
        let (folder, lid) = split_key(key);
        if in_app(folder) && lid.starts_with(&want) && disk.get(folder, lid).is_none() {
            candidates.push(Target {
                folder: folder.to_string(),
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
