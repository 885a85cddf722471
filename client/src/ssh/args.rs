//! The `ssh` command line: the user's command (`$MOBILE_SESSION_SSH_COMMAND`,
//! split as git splits `$GIT_SSH_COMMAND`), then the options this client
//! adds, then the destination and the remote command.

use std::ffi::OsString;
use std::path::Path;

/// The variable whose value replaces `ssh`, as `GIT_SSH_COMMAND` does for git.
pub const SSH_COMMAND_ENV: &str = "MOBILE_SESSION_SSH_COMMAND";

/// A `$MOBILE_SESSION_SSH_COMMAND` that cannot be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSshCommand(pub(crate) String);

/// Splits a command line into words as git's `split_cmdline` does for
/// `$GIT_SSH_COMMAND`: blanks separate words; single quotes keep what they
/// enclose as it is; double quotes keep blanks, and a backslash in them
/// takes the next character as it is; outside quotes a backslash does the
/// same. Nothing else is special: no variables, `~`, globs or `;` (no shell
/// runs it). An unclosed quote or a final backslash is an error.
pub fn split_command_line(line: &str) -> Result<Vec<String>, InvalidSshCommand> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word has begun (an empty quoted '' is a word).
    let mut started = false;
    let mut quoted: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (None, c) if is_blank(c) => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, '\'' | '"') => {
                quoted = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quoted = None,
            (q, '\\') if q != Some('\'') => match chars.next() {
                Some(next) => {
                    word.push(next);
                    started = true;
                }
                None => {
                    return Err(InvalidSshCommand(format!(
                        "{SSH_COMMAND_ENV} ends with a backslash"
                    )))
                }
            },
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if quoted.is_some() {
        return Err(InvalidSshCommand(format!(
            "{SSH_COMMAND_ENV} has an unclosed quote"
        )));
    }
    if started {
        words.push(word);
    }
    if words.is_empty() {
        return Err(InvalidSshCommand(format!(
            "{SSH_COMMAND_ENV} names no program"
        )));
    }
    Ok(words)
}

/// C's `isspace`, which git's split uses.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Whether the user's own words set up connection sharing (`-M`, `-S`,
/// `ControlMaster`, `ControlPath`, `ControlPersist`): then theirs is used
/// and this client starts no shared connection of its own.
pub(crate) fn manages_sharing(words: &[String]) -> bool {
    words.iter().any(|w| {
        let lower = w.to_ascii_lowercase();
        lower.contains("controlmaster")
            || lower.contains("controlpath")
            || lower.contains("controlpersist")
            || w == "-M"
            || w.starts_with("-S")
    })
}

/// `s` quoted for the remote user's shell, which runs the remote command.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The remote command: `PROGRAM dial-stdio [--socket 'PATH']`.
pub(crate) fn remote_command(program: &str, socket: Option<&Path>) -> String {
    let mut cmd = format!("{program} dial-stdio");
    if let Some(p) = socket {
        cmd.push_str(" --socket ");
        cmd.push_str(&shell_quote(&p.to_string_lossy()));
    }
    cmd
}

/// `-o NAME=VALUE`.
pub(crate) fn option(name: &str, value: impl std::fmt::Display) -> [OsString; 2] {
    ["-o".into(), format!("{name}={value}").into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_command_line(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn words_are_split_as_git_splits_them() {
        assert_eq!(split("ssh"), ["ssh"]);
        assert_eq!(split("  ssh  -v\t-p 2222 "), ["ssh", "-v", "-p", "2222"]);
        assert_eq!(
            split("ssh -i '/keys/my key' -o \"UserKnownHostsFile=/a b\""),
            ["ssh", "-i", "/keys/my key", "-o", "UserKnownHostsFile=/a b"]
        );
        // Backslashes: outside quotes and in double quotes, the next
        // character as it is; in single quotes, a backslash is a backslash.
        assert_eq!(split(r"a\ b c"), ["a b", "c"]);
        assert_eq!(split(r#""a\"b" 'c\d'"#), [r#"a"b"#, r"c\d"]);
        assert_eq!(split(r#""\\""#), [r"\"]);
        // Quotes join with what touches them; an empty pair is a word.
        assert_eq!(split("a'b c'd ''"), ["ab cd", ""]);
        // No shell: $, ~, ; and * are characters.
        assert_eq!(split("ssh $HOME ~/k ;*"), ["ssh", "$HOME", "~/k", ";*"]);
    }

    #[test]
    fn what_cannot_be_split_is_an_error() {
        for (bad, why) in [
            ("ssh 'x", "unclosed quote"),
            ("ssh \"x", "unclosed quote"),
            ("ssh x\\", "backslash"),
            ("", "names no program"),
            ("   ", "names no program"),
        ] {
            let e = split_command_line(bad).expect_err(bad).to_string();
            assert!(
                e.contains(why) && e.contains(SSH_COMMAND_ENV),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn the_remote_command_quotes_the_socket_for_the_remote_shell() {
        assert_eq!(
            remote_command("mobile-session", None),
            "mobile-session dial-stdio"
        );
        assert_eq!(
            remote_command(
                "mobile-session",
                Some(Path::new("/run/a b/it's;rm -rf ~.sock"))
            ),
            r"mobile-session dial-stdio --socket '/run/a b/it'\''s;rm -rf ~.sock'"
        );
    }

    #[test]
    fn the_users_own_sharing_is_noticed() {
        let words = |s: &str| split(s);
        assert!(manages_sharing(&words("ssh -o ControlPath=~/.ssh/cm-%C")));
        assert!(manages_sharing(&words("ssh -S /tmp/cm")));
        assert!(manages_sharing(&words("ssh -o controlmaster=auto")));
        assert!(!manages_sharing(&words("ssh -F /dev/null -i key -p 22")));
    }
}
