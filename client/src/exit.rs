//! How `mobile-session` ends: the exit codes, the error line on stderr and
//! the hint that says what to do next.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 pending (`verify`,
//! `authenticate`); 4 unknown token or refused (`verify`, `authenticate`,
//! `user-info`, `logout`); 69 the daemon cannot be reached (on another
//! host: ssh cannot reach it either), is busy or went away; 77 permission
//! denied on the socket (there too), or refused by the daemon; 78
//! `notify` of an app without usable push credentials.

use std::io::Write;
use std::path::{Path, PathBuf};

use mobile_session::proto::paths::{effective_uid, resolve_client_socket, SOCKET_ENV};
use mobile_session::{ClientError, ErrorCode, RemoteFailure};

pub const EXIT_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_PENDING: u8 = 3;
pub const EXIT_UNKNOWN: u8 = 4;
pub const EXIT_UNAVAILABLE: u8 = 69;
pub const EXIT_NOPERM: u8 = 77;
/// `notify` of an app without usable push credentials (EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;

/// Standard output was closed by its reader (`mobile-session sessions | head -1`):
/// not an error worth a word.
#[derive(Debug, thiserror::Error)]
#[error("standard output is closed")]
pub struct StdoutClosed;

/// A usage error found after parsing (e.g. two arguments both wanting stdin).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Writes to stdout; a reader that went away ends the program quietly.
pub fn emit(text: &str) -> anyhow::Result<()> {
    emit_bytes(text.as_bytes())
}

pub fn emit_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Prints `e` (with what to do next) and returns the exit code.
pub fn report(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<StdoutClosed>().is_some() {
        return 0;
    }
    let (code, text) = describe(e);
    eprint!("{text}");
    code
}

/// The exit code, and the lines `report` prints: `error: …`, then the hint.
pub fn describe(e: &anyhow::Error) -> (u8, String) {
    let mut text = format!("error: {e:#}\n");
    if let Some(hint) = e.downcast_ref::<ClientError>().and_then(hint) {
        text.push_str(&hint);
        text.push('\n');
    }
    (exit_code(e), text)
}

fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Usage>().is_some() {
        return EXIT_USAGE;
    }
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::TooLarge { .. }) => EXIT_USAGE,
        Some(ClientError::Unreachable { .. })
        | Some(ClientError::Busy { .. })
        | Some(ClientError::Timeout { .. })
        | Some(ClientError::ConnectionLost { .. }) => EXIT_UNAVAILABLE,
        Some(ClientError::PermissionDenied { .. }) | Some(ClientError::Refused { .. }) => {
            EXIT_NOPERM
        }
        Some(ClientError::Remote { failure, .. }) => match failure {
            RemoteFailure::PermissionDenied | RemoteFailure::Login => EXIT_NOPERM,
            _ => EXIT_UNAVAILABLE,
        },
        Some(ClientError::Daemon(r)) => match r.code {
            ErrorCode::BadRequest => EXIT_USAGE,
            ErrorCode::UnknownToken | ErrorCode::Refused => EXIT_UNKNOWN,
            ErrorCode::Busy | ErrorCode::ShuttingDown => EXIT_UNAVAILABLE,
            ErrorCode::NotifyConfig => EXIT_CONFIG,
            _ => EXIT_ERROR,
        },
        _ => EXIT_ERROR,
    }
}

/// What to do next, for the errors that have an answer.
fn hint(e: &ClientError) -> Option<String> {
    match e {
        ClientError::Unreachable { path, tried, .. } => Some(unreachable_hint(path, tried)),
        ClientError::PermissionDenied {
            path,
            groups,
            owner,
            ..
        } => Some(permission_hint(path, groups, owner.as_deref())),
        ClientError::Busy { .. } => {
            Some("hint: the daemon serves as many clients as it may; try again shortly".into())
        }
        // Over ssh, the user the daemon judged is the one ssh logs in as.
        ClientError::Refused { .. } => at_socket().starts_with(" on ").then(|| {
            format!(
                "hint: the daemon{} judges the user ssh logs in as there (ssh://USER@HOST)",
                at_socket()
            )
        }),
        ClientError::Timeout { .. } => Some(format!(
            "hint: mobile-sessiond{} may be stuck or overloaded (or the network to it): its log \
             says what it is doing (`journalctl -u mobile-sessiond`); try again",
            at_socket()
        )),
        ClientError::ConnectionLost { .. } => Some(format!(
            "hint: mobile-sessiond{} went away (it stopped, restarted or crashed): \
             `mobile-session status` says whether it is back, its log why",
            at_socket()
        )),
        ClientError::Remote {
            host,
            failure,
            details,
            ..
        } => Some(crate::remote::hint(host, *failure, details)),
        ClientError::TooLarge { .. } => {
            Some("hint: name fewer sessions at once, or make the body or filter smaller".into())
        }
        _ => None,
    }
}

/// Who to ask for what: the groups that really let one in (named by the
/// socket's ACL), else that only the daemon's own user and root may.
fn permission_hint(path: &Path, groups: &[String], owner: Option<&str>) -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "$USER".into());
    let named: Vec<&String> = groups.iter().filter(|g| !g.starts_with("gid ")).collect();
    match (named.as_slice(), owner) {
        ([], _) if !groups.is_empty() => format!(
            "hint: ask an administrator to give you one of the groups with access to {} \
             ({})",
            path.display(),
            groups.join(", ")
        ),
        ([one], _) => format!(
            "hint: members of group {one} may use mobile-sessiond: ask an administrator to run \
             `sudo usermod -aG {one} {user}`, then log in again"
        ),
        ([first, ..], _) => format!(
            "hint: members of group {} may use mobile-sessiond: ask an administrator to add \
             you to one of them (`sudo usermod -aG {first} {user}`), then log in again",
            named
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        ([], Some("root")) => "hint: this mobile-sessiond lets in only root: run the command \
             as root, or ask an administrator to set admin_group or reader_group in its config"
            .to_string(),
        ([], Some(owner)) => format!(
            "hint: this mobile-sessiond lets in only its own user ({owner}) and root: run the \
             command as one of them, or ask an administrator to set admin_group or reader_group \
             in its config"
        ),
        ([], None) => format!(
            "hint: ask an administrator for access to {}",
            path.display()
        ),
    }
}

/// Where the daemon this run talks to is, once known (" at PATH", or
/// " on ssh://HOST"): errors after that name it.
pub static DAEMON_AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn at_socket() -> String {
    DAEMON_AT.get().cloned().unwrap_or_default()
}

/// A missing daemon: say where the client looked, and do not suggest
/// starting one when a daemon's socket exists at a path not tried.
fn unreachable_hint(path: &Path, tried: &[PathBuf]) -> String {
    let mut out = String::new();
    if tried.len() > 1 {
        let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!("tried: {}\n", list.join(", ")));
    }
    // Where a daemon would be found without --socket or the variable.
    let search = resolve_client_socket(
        None,
        |k| (k != SOCKET_ENV).then(|| std::env::var_os(k)).flatten(),
        effective_uid(),
    );
    let elsewhere = search
        .candidates()
        .iter()
        .chain(std::iter::once(
            &mobile_session::proto::paths::system_socket_path(),
        ))
        .find(|p| !tried.contains(p) && p.exists())
        .cloned();
    if let Some(other) = elsewhere {
        out.push_str(&format!(
            "hint: a mobile-sessiond socket exists at {}: use --socket {0} (or drop --socket / $MOBILE_SESSION_SOCKET)",
            other.display()
        ));
    } else if std::fs::metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        !m.file_type().is_socket()
    }) {
        out.push_str(&format!(
            "hint: {} is not a socket: point --socket / $MOBILE_SESSION_SOCKET at the daemon's socket",
            path.display()
        ));
    } else if path.exists() {
        out.push_str(&format!(
            "hint: {} exists but no daemon listens on it (left by a daemon that was killed?): \
             start mobile-sessiond again (`sudo systemctl start mobile-sessiond`, or `mobile-sessiond --socket {0}`)",
            path.display()
        ));
    } else {
        out.push_str(&format!(
            "hint: start it with `mobile-sessiond --socket {}` (or `sudo systemctl start mobile-sessiond`), \
             or point --socket / $MOBILE_SESSION_SOCKET at its socket",
            path.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_of_errors() {
        let daemon = |code| {
            anyhow::Error::new(ClientError::Daemon(mobile_session::ErrorReply {
                code,
                message: String::new(),
            }))
        };
        assert_eq!(exit_code(&daemon(ErrorCode::BadRequest)), EXIT_USAGE);
        assert_eq!(exit_code(&daemon(ErrorCode::UnknownToken)), EXIT_UNKNOWN);
        assert_eq!(exit_code(&daemon(ErrorCode::NotFound)), EXIT_ERROR);
        assert_eq!(exit_code(&daemon(ErrorCode::Busy)), EXIT_UNAVAILABLE);
        let busy = anyhow::Error::new(ClientError::Busy {
            reason: "full".into(),
        });
        assert_eq!(exit_code(&busy), EXIT_UNAVAILABLE);
        let refused = anyhow::Error::new(ClientError::Refused {
            reason: "no".into(),
        });
        assert_eq!(exit_code(&refused), EXIT_NOPERM);
        assert_eq!(
            exit_code(&anyhow::Error::new(Usage("x".into()))),
            EXIT_USAGE
        );
        assert_eq!(report(&anyhow::Error::new(StdoutClosed)), 0);
    }

    #[test]
    fn the_permission_hint_names_the_groups_that_let_one_in() {
        let path = Path::new("/run/x.sock");
        let one = permission_hint(path, &["4d-admin".into()], Some("mobile-sessiond"));
        assert!(
            one.contains("group 4d-admin") && one.contains("usermod -aG 4d-admin"),
            "{one}"
        );
        let two = permission_hint(path, &["adm".into(), "web".into()], None);
        assert!(two.contains("group adm or web"), "{two}");
        let none = permission_hint(path, &[], Some("alice"));
        assert!(
            none.contains("only its own user (alice) and root"),
            "{none}"
        );
        assert!(!none.contains("usermod"), "{none}");
    }
}
