//! `--host`: which daemon a run talks to, what to do when one on another
//! host cannot be reached, and `dial-stdio`, what ssh runs over there.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use mobile_session::proto::paths::client_socket;
use mobile_session::{
    dial_stdio, ClientBuilder, Destination, RemoteFailure, SshConnector, UnixConnector,
    SSH_COMMAND_ENV,
};

use crate::exit::{self, Usage, DAEMON_AT};

/// Connecting over ssh (after the login, which may wait for a person)
/// starts a program over there and reaches the daemon through it.
const REMOTE_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The client for `--host` and `--socket`.
pub fn builder(host: Option<&Destination>, socket: Option<&Path>) -> anyhow::Result<ClientBuilder> {
    let address = match host {
        None | Some(Destination::Local(None)) => return Ok(local(socket)),
        Some(Destination::Local(Some(path))) => match socket {
            Some(s) if s != path => {
                return Err(Usage(format!(
                    "--socket {} and --host unix://{} name two sockets: give one",
                    s.display(),
                    path.display()
                ))
                .into())
            }
            _ => return Ok(local(Some(path))),
        },
        Some(Destination::Ssh(address)) => address,
    };
    let mut address = address.clone();
    if let Some(s) = socket {
        if address.socket.as_deref().is_some_and(|p| p != s) {
            return Err(Usage(format!(
                "--socket {} and the path in --host {address} both name the socket on that host: give one",
                s.display()
            ))
            .into());
        }
        address.socket = Some(s.to_path_buf());
    }
    if let Some(p) = address.socket.as_deref().filter(|p| !p.is_absolute()) {
        return Err(Usage(format!(
            "the socket on {} must be an absolute path, not {}",
            address.host_label(),
            p.display()
        ))
        .into());
    }
    let _ = DAEMON_AT.set(format!(" on {}", address.host_label()));
    let connector = SshConnector::from_env(address).map_err(|e| Usage(e.to_string()))?;
    Ok(ClientBuilder::new()
        .connector(connector)
        .connect_timeout(Some(REMOTE_CONNECT_TIMEOUT)))
}

fn local(socket: Option<&Path>) -> ClientBuilder {
    let choice = client_socket(socket);
    if let mobile_session::proto::paths::ClientSocket::Explicit(path) = &choice {
        let _ = DAEMON_AT.set(format!(" at {}", path.display()));
    }
    ClientBuilder::new().socket_choice(choice)
}

/// What to do when the daemon on `host` cannot be reached: the remote
/// side's own hints (about that host), then ours.
pub fn hint(host: &str, failure: RemoteFailure, details: &[String]) -> String {
    let mut lines: Vec<String> = details
        .iter()
        .map(|d| match d.strip_prefix("hint:") {
            Some(rest) => format!("hint (on {host}):{rest}"),
            None => d.clone(),
        })
        .collect();
    let ours = match failure {
        RemoteFailure::Ssh => Some(format!(
            "hint: ssh must reach {host} from here: check its name, that it is up and reachable, \
             and its host key (`ssh` to it once by hand); ${SSH_COMMAND_ENV} replaces `ssh`"
        )),
        RemoteFailure::Login => Some(format!(
            "hint: ssh may ask for a password or passphrase at the first connection only: load \
             your key into the agent (`ssh-add`), or check that `ssh` to {host} logs in by hand"
        )),
        RemoteFailure::NoRemoteProgram => Some(format!(
            "hint: install mobile-session on {host} (it comes with mobile-sessiond): it finds the \
             daemon there as a local client does and says what is wrong in its own words; \
             without it, ssh forwards to the socket the address names \
             (ssh://HOST/path/to/mobile-sessiond.sock), else to {}",
            mobile_session::DEFAULT_REMOTE_SOCKET
        )),
        RemoteFailure::Other(_) => Some(format!(
            "hint: `ssh` to {host} and run `mobile-session status` there to see what it says"
        )),
        _ => None,
    };
    lines.extend(ours);
    lines.join("\n")
}

/// `mobile-session dial-stdio`: connects to the daemon's socket as a local
/// client would, says so on the first line (see
/// [`mobile_session::dial_stdio`]), then copies bytes both ways until
/// either side ends. Its errors go to stderr as usual, and on the first
/// line for the client at the other end of ssh.
pub fn dial_stdio(socket: Option<&Path>, host: bool) -> anyhow::Result<u8> {
    // A `$MOBILE_SESSION_HOST` of the remote user's own (a shell profile
    // sets it) must not turn the helper away; only `-H` on its line does.
    let from_env = std::env::var_os(mobile_session::HOST_ENV).is_some_and(|v| !v.is_empty());
    if host && !from_env {
        return Err(
            Usage("dial-stdio connects to a daemon on this host: drop --host".into()).into(),
        );
    }
    let mut out = File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot use standard output")?,
    );
    let connector = UnixConnector::new(client_socket(socket));
    let connected = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(connector.connect_stream());
    let (stream, path) = match connected {
        Ok(c) => c,
        Err(e) => {
            let e = anyhow::Error::new(e);
            let (code, text) = exit::describe(&e);
            eprint!("{text}");
            let _ = out.write_all(&dial_stdio::failed(code, &text));
            return Ok(code);
        }
    };
    let stream = stream
        .into_std()
        .context("cannot use the daemon's socket")?;
    stream
        .set_nonblocking(false)
        .context("cannot use the daemon's socket")?;
    if out.write_all(&dial_stdio::ready(&path)).is_err() {
        return Ok(0);
    }
    let mut requests = stream
        .try_clone()
        .context("cannot use the daemon's socket")?;
    let mut input = File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("cannot use standard input")?,
    );
    std::thread::spawn(move || {
        let _ = pump(&mut input, &mut requests);
        // The client is done: the daemon sees the end of its requests.
        let _ = requests.shutdown(std::net::Shutdown::Write);
    });
    // The daemon's answers until it closes; then this process ends, and
    // with it the copy of requests.
    let _ = pump(&mut &stream, &mut out);
    Ok(0)
}

/// Copies until the end of `from`, each read written at once. Not
/// `std::io::copy`: on Linux it splices pipes into sockets, and a splice
/// from ssh's pipe was seen to sleep on bytes already there (kernel 6.18).
fn pump(from: &mut impl std::io::Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}
