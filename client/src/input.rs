//! Tokens and request bodies, read from arguments, files or standard input
//! before connecting: a missing file is the user's error, not the daemon's.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use crate::cli::Command;
use crate::exit::Usage;

/// Tokens and bodies, read from arguments, files or stdin before connecting.
#[derive(Default)]
pub struct Input {
    token: Option<String>,
    body: Option<String>,
}

impl Input {
    pub fn read(cmd: &Command) -> anyhow::Result<Self> {
        let mut input = Input::default();
        match cmd {
            Command::Verify { token } | Command::Logout { token } => {
                input.token = Some(read_token(token)?);
            }
            Command::UserInfo { token, file } => {
                let body_from_stdin = is_stdin(file.as_deref());
                if token == "-" && body_from_stdin {
                    return Err(Usage(
                        "TOKEN and the body cannot both come from standard input: give the body as FILE"
                            .into(),
                    )
                    .into());
                }
                input.token = Some(read_token(token)?);
                input.body = Some(read_body(file.as_deref())?);
            }
            Command::Authenticate { file, .. } => input.body = Some(read_body(file.as_deref())?),
            _ => {}
        }
        Ok(input)
    }

    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    pub fn body(&self) -> &str {
        self.body.as_deref().unwrap_or_default()
    }
}

/// A FILE argument meaning standard input: absent, or `-`.
fn is_stdin(file: Option<&Path>) -> bool {
    match file {
        None => true,
        Some(p) => p.as_os_str() == "-",
    }
}

/// A token argument: `-` reads the first line of stdin; blanks and a
/// leading `Bearer ` (as copied from an Authorization header) are dropped.
fn read_token(arg: &str) -> anyhow::Result<String> {
    let raw = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the token from standard input")?;
        s.lines().next().unwrap_or_default().to_string()
    } else {
        arg.to_string()
    };
    // An empty token is sent as is: the daemon answers "unknown" (exit 4).
    Ok(strip_bearer(raw.trim()).trim().to_string())
}

fn strip_bearer(s: &str) -> &str {
    if s.eq_ignore_ascii_case("bearer") {
        return "";
    }
    match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => &s[7..],
        _ => s,
    }
}

fn read_body(file: Option<&Path>) -> anyhow::Result<String> {
    match file {
        Some(p) if !is_stdin(file) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the request body from {}", p.display())),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the request body from standard input")?;
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_stripped() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bear"), "Bear");
        assert_eq!(read_token("  Bearer  eyJx \n").unwrap(), "eyJx");
        assert_eq!(read_token("Bearer ").unwrap(), "");
    }
}
