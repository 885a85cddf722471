//! Names under `MobileApps`: which directory entries are sessions and app
//! folders, the folder an app's sessions live in, and [`SessionKey`], the one
//! key both views know a session by.
//!
//! 4D keeps one folder per app — `<TeamID>.<BundleID>` for iOS,
//! `<BundleID>` for Android — and one file per session in it, named with the
//! session id and no extension. Ids are hexadecimal (40 lower-case characters
//! in the wild, 32 upper-case ones for newer 4D versions) and are matched
//! case-insensitively.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// The file beside an app's sessions that names the app (read only).
pub const MANIFEST: &str = "manifest.json";

/// Files that live beside sessions and are never sessions.
const NOT_SESSIONS: &[&str] = &[MANIFEST, "google-services.json", "key.mobileapp"];

/// The longest file name a session may have (far above 4D's 40).
pub const MAX_SESSION_NAME: usize = 128;

/// Whether a directory entry's name is a session file name: hexadecimal and
/// nothing else (4D ignores the rest: `manifest.json`, `*.p8`, dot-files …).
pub fn is_session_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SESSION_NAME
        && name.bytes().all(|b| b.is_ascii_hexdigit())
        && !NOT_SESSIONS.contains(&name)
}

/// Whether a name may be an app folder: a plain, visible file name.
pub fn is_app_folder_name(name: &str) -> bool {
    is_plain_name(name) && !name.starts_with('.')
}

/// A single path component that cannot climb or escape: no `/`, no NUL,
/// not `.` or `..`, not empty.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= 255
}

/// The folder an app's sessions live in: `TEAM.bundle`, or `bundle` when
/// the team is missing or empty (Android).
pub fn app_folder(app_id: &str, team_id: Option<&str>) -> String {
    let mut folder = String::new();
    write_app_folder(&mut folder, app_id, team_id);
    folder
}

/// [`app_folder`] into `buf` (cleared first): `verify` reuses one buffer.
pub fn write_app_folder(buf: &mut String, app_id: &str, team_id: Option<&str>) {
    buf.clear();
    match team_id {
        Some(team) if !team.is_empty() => {
            buf.reserve(team.len() + 1 + app_id.len());
            buf.push_str(team);
            buf.push('.');
        }
        _ => buf.reserve(app_id.len()),
    }
    buf.push_str(app_id);
}

/// A session as the views know it: its app folder and its id in lower case.
///
/// Stored as one string `folder/id` (neither part contains `/`), so a key is
/// one allocation, and a lookup can borrow it as `&str` without building a
/// key (see [`write_key`]). Shared, not copied, by the live view's two
/// indexes and the disk view's sets.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(Arc<str>);

impl SessionKey {
    /// The key of session `id` (any case) in `folder`.
    pub fn new(folder: &str, id: &str) -> Self {
        let mut s = String::with_capacity(folder.len() + 1 + id.len());
        write_key(&mut s, folder, id);
        Self(s.into())
    }

    /// Takes a key string made by [`write_key`] as is.
    fn from_raw(raw: &str) -> Self {
        Self(raw.into())
    }

    pub fn folder(&self) -> &str {
        split_key(&self.0).0
    }

    /// The id in lower case.
    pub fn id(&self) -> &str {
        split_key(&self.0).1
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SessionKey {
    /// A key from its `folder/id` text, lower-casing the id.
    fn from(raw: &str) -> Self {
        let (folder, id) = split_key(raw);
        if id.bytes().any(|b| b.is_ascii_uppercase()) {
            Self::new(folder, id)
        } else {
            Self::from_raw(raw)
        }
    }
}

impl Borrow<str> for SessionKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Writes the key text of (`folder`, `id`) into `buf` (cleared first): a
/// lookup by `&str` without allocating.
pub fn write_key(buf: &mut String, folder: &str, id: &str) {
    buf.clear();
    buf.push_str(folder);
    buf.push('/');
    let start = buf.len();
    buf.push_str(id);
    buf[start..].make_ascii_lowercase();
}

fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or((key, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_and_folder_names() {
        assert!(is_session_name("7023d9205074199d1c16fc00d24354e778137675"));
        assert!(is_session_name("0DC5132E1EF4407CA8325FE33D818AF3"));
        for n in [
            "manifest.json",
            "AuthKey_4S3T2R1Q0P.p8",
            ".tmp",
            "key.mobileapp",
            "",
            "abc.tmp",
        ] {
            assert!(!is_session_name(n), "{n}");
        }
        for n in ["..", ".", "a/b", "a\0b", ""] {
            assert!(!is_plain_name(n), "{n:?}");
        }
        assert!(!is_app_folder_name(".hidden"));
        assert_eq!(app_folder("com.x", Some("")), "com.x");
        assert_eq!(app_folder("com.x", None), "com.x");
        assert_eq!(app_folder("com.x", Some("T")), "T.com.x");
    }

    #[test]
    fn keys_lower_case_the_id_only() {
        let k = SessionKey::new("T.com.App", "ABCD");
        assert_eq!(k.as_str(), "T.com.App/abcd");
        assert_eq!((k.folder(), k.id()), ("T.com.App", "abcd"));
        assert_eq!(SessionKey::from("T.com.App/AbCd"), k);
        let mut buf = String::new();
        write_key(&mut buf, "T.com.App", "aBcD");
        assert_eq!(buf, k.as_str());
    }
}
