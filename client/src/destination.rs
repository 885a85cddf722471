//! Where the daemon is, as `-H` / `$MOBILE_SESSION_HOST` write it: this
//! machine (`unix://[PATH]`), or another host reached through ssh
//! (`ssh://[USER@]HOST[:PORT][/PATH]`, or `[USER@]HOST`).

use std::fmt;
use std::path::PathBuf;

/// The variable that names the daemon's host for the command line.
pub const HOST_ENV: &str = "MOBILE_SESSION_HOST";

/// A daemon on this machine or on another host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// This machine: this socket, or the usual search without one.
    Local(Option<PathBuf>),
    /// Another host, through ssh.
    Ssh(SshAddress),
}

/// A daemon on another host: who logs in where, and the daemon's socket
/// there when it is named (else the remote side looks for it as a local
/// client would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshAddress {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub socket: Option<PathBuf>,
}

/// A `-H` value that is not an address, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDestination(String);

fn invalid(value: &str, why: &str) -> InvalidDestination {
    InvalidDestination(format!("{value:?} is not a host: {why}"))
}

impl Destination {
    /// `ssh://[USER@]HOST[:PORT][/PATH]`, `[USER@]HOST` or `unix://[PATH]`.
    /// HOST may be an IPv6 address, in brackets when a port follows. The
    /// user and the path may be percent-encoded (`%20`).
    pub fn parse(value: &str) -> Result<Self, InvalidDestination> {
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(value, "it holds a space or a control character"));
        }
        if let Some(path) = value.strip_prefix("unix://") {
            return match path {
                "" => Ok(Destination::Local(None)),
                p if p.starts_with('/') => Ok(Destination::Local(Some(decode(value, p)?.into()))),
                _ => Err(invalid(
                    value,
                    "a socket path must be absolute (unix:///path)",
                )),
            };
        }
        if let Some(rest) = value.strip_prefix("ssh://") {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], Some(&rest[i..])),
                None => (rest, None),
            };
            let mut address = authority_of(value, authority, true)?;
            if let Some(p) = path.filter(|p| *p != "/") {
                address.socket = Some(decode(value, p)?.into());
            }
            return Ok(Destination::Ssh(address));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            return Err(invalid(
                value,
                &format!("{scheme}:// is not supported (ssh:// or unix:// are)"),
            ));
        }
        if value.contains('/') {
            return Err(invalid(
                value,
                "to name the daemon's socket there, write ssh://HOST/path/to/socket",
            ));
        }
        authority_of(value, value, false).map(Destination::Ssh)
    }
}

/// `[USER@]HOST[:PORT]`; a port only in the URL form.
fn authority_of(value: &str, authority: &str, url: bool) -> Result<SshAddress, InvalidDestination> {
    let (user, hostport) = match authority.rfind('@') {
        Some(i) => (Some(decode(value, &authority[..i])?), &authority[i + 1..]),
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid(value, "an IPv6 address in brackets lacks its ]"))?;
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(invalid(value, "only :PORT may follow [ADDRESS]")),
            },
        }
    } else {
        match hostport.matches(':').count() {
            0 => (hostport, None),
            // A bare IPv6 address.
            n if n > 1 => (hostport, None),
            _ => {
                let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
                (host, Some(port))
            }
        }
    };
    let port = match port {
        None => None,
        Some(_) if !url => {
            return Err(invalid(value, "to give a port, write ssh://HOST:PORT"));
        }
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(invalid(value, "the port must be a number from 1 to 65535")),
        },
    };
    if host.is_empty() {
        return Err(invalid(value, "the host name is empty"));
    }
    // What ssh would take for an option, or what cannot be a host name.
    if host.starts_with('-') || host.contains(['@', '/', '\\', '[', ']']) {
        return Err(invalid(value, "that is not a host name or address"));
    }
    if let Some(u) = &user {
        if u.is_empty() || u.starts_with('-') || u.contains(['/', ':']) {
            return Err(invalid(value, "that is not a user name"));
        }
    }
    Ok(SshAddress {
        user,
        host: host.to_string(),
        port,
        socket: None,
    })
}

/// Percent-decoding (`%2F`), for user names and paths in URLs.
fn decode(value: &str, s: &str) -> Result<String, InvalidDestination> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(value, "a % is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| invalid(value, "it decodes to invalid UTF-8"))?;
    if text.contains('\0') {
        return Err(invalid(value, "it decodes to a NUL byte"));
    }
    Ok(text)
}

impl SshAddress {
    /// `ssh://[USER@]HOST[:PORT]`, without the socket: how messages name the host.
    pub fn host_label(&self) -> String {
        let mut out = String::from("ssh://");
        if let Some(u) = &self.user {
            out.push_str(&encode(u));
            out.push('@');
        }
        match self.host.contains(':') {
            true => out.push_str(&format!("[{}]", self.host)),
            false => out.push_str(&self.host),
        }
        if let Some(p) = self.port {
            out.push_str(&format!(":{p}"));
        }
        out
    }
}

impl fmt::Display for SshAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_label())?;
        if let Some(path) = &self.socket {
            f.write_str(&encode(&path.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// The characters a URL cannot hold as they are.
fn encode(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '%' | '@' | ':' | '?' | '#' => format!("%{:02X}", c as u32),
            c if c.is_whitespace() || c.is_control() => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(user: Option<&str>, host: &str, port: Option<u16>, socket: Option<&str>) -> Destination {
        Destination::Ssh(SshAddress {
            user: user.map(str::to_string),
            host: host.into(),
            port,
            socket: socket.map(PathBuf::from),
        })
    }

    #[test]
    fn the_forms_of_a_host() {
        let ok = |s: &str| Destination::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("prod1"), ssh(None, "prod1", None, None));
        assert_eq!(ok("admin@prod1"), ssh(Some("admin"), "prod1", None, None));
        assert_eq!(ok("ssh://prod1"), ssh(None, "prod1", None, None));
        assert_eq!(
            ok("ssh://admin@prod1.example.com:2222/run/mobile-sessiond/mobile-sessiond.sock"),
            ssh(
                Some("admin"),
                "prod1.example.com",
                Some(2222),
                Some("/run/mobile-sessiond/mobile-sessiond.sock")
            )
        );
        assert_eq!(
            ok("ssh://[::1]:22/s.sock"),
            ssh(None, "::1", Some(22), Some("/s.sock"))
        );
        assert_eq!(ok("ssh://[::1]"), ssh(None, "::1", None, None));
        assert_eq!(ok("::1"), ssh(None, "::1", None, None));
        assert_eq!(ok("ssh://h/"), ssh(None, "h", None, None));
        assert_eq!(
            ok("ssh://h/my%20dir/s.sock"),
            ssh(None, "h", None, Some("/my dir/s.sock"))
        );
        assert_eq!(ok("unix://"), Destination::Local(None));
        assert_eq!(
            ok("unix:///run/x.sock"),
            Destination::Local(Some("/run/x.sock".into()))
        );
    }

    #[test]
    fn what_is_not_a_host_says_why() {
        for (bad, why) in [
            ("", "empty"),
            ("host:22", "ssh://HOST:PORT"),
            ("host/run/x.sock", "ssh://HOST/path"),
            ("ssh://host:0", "1 to 65535"),
            ("ssh://host:99999", "1 to 65535"),
            ("ssh://host:ssh", "1 to 65535"),
            ("-oProxyCommand=touch%20x", "not a host name"),
            ("ssh://-oProxyCommand=x", "not a host name"),
            ("ssh://-l@host", "not a user name"),
            ("tcp://host:1", "tcp:// is not supported"),
            ("unix://relative.sock", "absolute"),
            ("ssh://[::1", "lacks its ]"),
            ("ssh://h/%zz", "two hex digits"),
            ("ssh://h/a%00b", "NUL"),
            ("host name", "space"),
            ("ssh://@host", "not a user name"),
        ] {
            let e = Destination::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn an_address_reads_back_as_it_was_written() {
        for s in [
            "ssh://prod1",
            "ssh://admin@prod1:2222",
            "ssh://[::1]:22/run/x.sock",
            "ssh://[fe80::1]",
            "ssh://h/my%20dir/s.sock",
        ] {
            let Destination::Ssh(a) = Destination::parse(s).unwrap() else {
                panic!("{s}");
            };
            assert_eq!(a.to_string(), s);
            assert_eq!(
                Destination::parse(&a.to_string()).unwrap(),
                Destination::Ssh(a)
            );
        }
    }
}
