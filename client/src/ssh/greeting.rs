//! The first line `mobile-session dial-stdio` writes on its standard
//! output, before the daemon's bytes: whether it reached the daemon, and
//! its socket or its error. The client reads it before the handshake, so
//! that a remote failure comes back as the remote side worded it, with its
//! exit code, in the order it happened (ssh may hand the remote side's
//! standard error over later than its exit status).
//!
//! `mobile-session dial-stdio 1 ok HEX(socket path)\n`, or
//! `mobile-session dial-stdio 1 error EXIT-CODE HEX(message)\n`; HEX is the
//! bytes in lower-case hexadecimal (paths may hold spaces or newlines).

use std::path::{Path, PathBuf};

const PREFIX: &str = "mobile-session dial-stdio 1 ";
/// The longest first line a client reads.
pub(crate) const MAX_LINE: usize = 16 * 1024;

/// The line that says the daemon's socket at `socket` is connected.
pub fn ready(socket: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    format!("{PREFIX}ok {}\n", hex(socket.as_os_str().as_bytes())).into_bytes()
}

/// The line that says the daemon could not be reached: the exit code the
/// remote side ends with (69, 77…) and its message (the error and hints).
pub fn failed(code: u8, message: &str) -> Vec<u8> {
    let cut = &message.as_bytes()[..message.len().min(MAX_LINE / 2 - 64)];
    format!("{PREFIX}error {code} {}\n", hex(cut)).into_bytes()
}

/// What a first line said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Greeting {
    Ready(PathBuf),
    Failed { code: u8, message: String },
}

/// `None`: not a greeting (something else wrote on the remote side's
/// standard output first).
pub(crate) fn parse(line: &[u8]) -> Option<Greeting> {
    use std::os::unix::ffi::OsStringExt;
    let line = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
    let rest = line.strip_prefix(PREFIX)?;
    let mut words = rest.split(' ');
    match (words.next()?, words.next(), words.next(), words.next()) {
        ("ok", Some(path), None, None) => {
            let bytes = unhex(path)?;
            (!bytes.is_empty())
                .then(|| Greeting::Ready(PathBuf::from(std::ffi::OsString::from_vec(bytes))))
        }
        ("error", Some(code), Some(message), None) => Some(Greeting::Failed {
            code: code.parse().ok()?,
            message: String::from_utf8_lossy(&unhex(message)?).into_owned(),
        }),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_written() {
        let odd = Path::new("/run/a b/\nx.sock");
        assert_eq!(parse(&ready(odd)), Some(Greeting::Ready(odd.into())));
        let msg = "error: permission denied on the mobile-sessiond socket /s (group adm)\nhint: …";
        assert_eq!(
            parse(&failed(77, msg)),
            Some(Greeting::Failed {
                code: 77,
                message: msg.into()
            })
        );
        assert!(failed(69, &"x".repeat(100_000)).len() < MAX_LINE);
        for junk in [
            &b"Welcome to prod1!\n"[..],
            b"mobile-session dial-stdio 1 ok zz\n",
            b"mobile-session dial-stdio 1 ok 2f\n"
                .split_last()
                .unwrap()
                .1,
            b"mobile-session dial-stdio 1 ok \n",
            b"mobile-session dial-stdio 2 ok 2f\n",
            b"mobile-session dial-stdio 1 error x 2f\n",
        ] {
            assert_eq!(parse(junk), None, "{}", String::from_utf8_lossy(junk));
        }
    }
}
