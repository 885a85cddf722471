//! `history [SESSION|APP] [--since DUR]`: the records of the changes made
//! through the daemon, oldest first, a page at a time (the client asks for
//! the next page from where the last stopped, see [`crate::state::audit`]).
//!
//! A SESSION or APP may name what no longer exists — the history of a
//! deleted session is what one looks for — so an argument the views do not
//! know is matched against the records as written: an id prefix (4+ hex
//! characters), `APP/ID`, a folder name, or an app id.

use mobile_session_proto::{AuditRecord, ErrorCode, HistoryQuery, Response, MIN_ID_PREFIX};

use super::resolve::{resolve_app, resolve_session};
use super::{CmdError, Context};
use crate::model::seen::now_ms;

pub fn handle(ctx: &Context, q: HistoryQuery) -> Result<Response, CmdError> {
    let target = q.target.as_deref().map(|t| matcher(ctx, t)).transpose()?;
    let since_ms = q
        .since_secs
        .map_or(0, |s| now_ms().saturating_sub(s.saturating_mul(1000)));
    let keep = |r: &AuditRecord| target.as_ref().is_none_or(|m| m.matches(r));
    let (records, next) = ctx
        .state
        .audit
        .page(q.cursor, since_ms, &keep)
        .map_err(|e| CmdError::new(ErrorCode::Io, format!("cannot read the history: {e}")))?;
    Ok(Response::HistoryPage { records, next })
}

/// Which records a SESSION or APP argument names.
#[derive(Debug, PartialEq, Eq)]
enum Matcher {
    /// Sessions whose id starts so (lower case), in one app or any.
    Session {
        app: Option<AppMatch>,
        id: String,
    },
    App(AppMatch),
}

/// An app: a folder name, or (unknown to the views) a folder or an app id.
#[derive(Debug, PartialEq, Eq)]
enum AppMatch {
    Folder(String),
    Given(String),
}

impl AppMatch {
    fn matches(&self, folder: &str) -> bool {
        match self {
            AppMatch::Folder(f) => folder == f,
            AppMatch::Given(a) => {
                folder == a
                    || folder
                        .strip_suffix(a.as_str())
                        .is_some_and(|t| t.ends_with('.'))
            }
        }
    }
}

impl Matcher {
    fn matches(&self, r: &AuditRecord) -> bool {
        let app = r.app.as_deref().unwrap_or("");
        match self {
            Matcher::App(a) => a.matches(app),
            Matcher::Session { app: a, id } => {
                a.as_ref().is_none_or(|a| a.matches(app))
                    && r.id
                        .as_deref()
                        .is_some_and(|i| i.to_ascii_lowercase().starts_with(id.as_str()))
            }
        }
    }
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= MIN_ID_PREFIX && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn app_match(ctx: &Context, arg: &str) -> Result<AppMatch, CmdError> {
    match ctx
        .core
        .read_views(|disk, live| resolve_app(disk, live, arg))
    {
        Ok(folder) => Ok(AppMatch::Folder(folder)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(AppMatch::Given(arg.to_string())),
        Err(e) => Err(e),
    }
}

fn matcher(ctx: &Context, arg: &str) -> Result<Matcher, CmdError> {
    // A session the views know: exactly that one.
    let known = ctx
        .core
        .read_views(|disk, live| resolve_session(disk, live, arg));
    match known {
        Ok(t) => {
            return Ok(Matcher::Session {
                app: Some(AppMatch::Folder(t.folder)),
                id: t.name.to_ascii_lowercase(),
            })
        }
        Err(e) if e.code == ErrorCode::Ambiguous => return Err(e),
        Err(_) => {}
    }
    if let Some((app, id)) = arg.split_once('/') {
        if !is_hex_id(id) {
            return Err(CmdError::bad_request(format!(
                "{arg:?} is not APP/ID: the id is {MIN_ID_PREFIX}+ hex characters"
            )));
        }
        let app = Some(app_match(ctx, app)?);
        return Ok(Matcher::Session {
            app,
            id: id.to_ascii_lowercase(),
        });
    }
    match app_match(ctx, arg)? {
        // Hex alone, and no app has that name: an id of the past.
        AppMatch::Given(_) if is_hex_id(arg) => Ok(Matcher::Session {
            app: None,
            id: arg.to_ascii_lowercase(),
        }),
        app => Ok(Matcher::App(app)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(app: &str, id: Option<&str>) -> AuditRecord {
        AuditRecord {
            time_ms: 0,
            uid: None,
            pid: None,
            process: None,
            action: "delete".into(),
            app: Some(app.into()),
            id: id.map(Into::into),
            before: "null".into(),
            after: "null".into(),
        }
    }

    #[test]
    fn matches_by_folder_app_id_and_id_prefix() {
        let r = rec("UTT7VDX8W5.com.contactApp.Contact", Some("7023D920"));
        let given = |a: &str| Matcher::App(AppMatch::Given(a.into()));
        assert!(given("com.contactApp.Contact").matches(&r));
        assert!(given("UTT7VDX8W5.com.contactApp.Contact").matches(&r));
        assert!(!given("contactApp.Contact.x").matches(&r));
        assert!(!given("Contact").matches(&rec("com.xContact", None)));
        let session = |id: &str| Matcher::Session {
            app: None,
            id: id.into(),
        };
        assert!(session("7023d9").matches(&r));
        assert!(!session("7024").matches(&r));
        assert!(!session("7023").matches(&rec("a", None)));
    }
}
