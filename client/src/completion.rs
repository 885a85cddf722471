//! Shell completion through clap_complete's dynamic engine: the script a
//! shell sources (`mobile-session completions SHELL`) only calls this
//! program back with the words typed (`COMPLETE=SHELL mobile-session --
//! WORDS…`), and the answer comes from the command-line definition itself:
//! subcommands, their options, and option values (statuses, shells, and
//! app folders, which the daemon lists when it answers at once).
//!
//! The scripts that clap_complete generates ahead of time are not used:
//! for a binary whose name holds a hyphen, their bash script never
//! completes a subcommand's options (clap-rs/clap#6421); the dynamic ones
//! have no such tables to get wrong. The black-box tests source each
//! script in its real shell.

use std::ffi::OsString;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use clap_complete::{CompleteEnv, Shell};

use crate::cli::Cli;

/// The program's name, which the scripts register completion for.
const BIN: &str = "mobile-session";
/// The variable that turns a run into a completion request.
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits, when this run is one (the
/// variable is set); returns otherwise.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .bin(BIN)
        .complete();
}

const ZSH_AUTOLOADED: &str = r#"
if [[ "${funcstack[1]}" == "_mobile-session" ]]; then
    _clap_dynamic_completer_mobile_session "$@"
fi
"#;

/// The script that registers completion for `shell`: it calls this
/// program, by the path it was run as, at each Tab.
pub fn script(shell: Shell) -> std::io::Result<Vec<u8>> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::PowerShell => &Powershell,
        other => return Err(std::io::Error::other(format!("no completion for {other}"))),
    };
    let mut out = Vec::new();
    completer.write_registration(VAR, BIN, BIN, &completer_path(), &mut out)?;
    if shell == Shell::Zsh {
        // Installed in $fpath as _mobile-session, the file is the body of
        // the function compinit autoloads at the first Tab: it must
        // complete then too, not only register for the next one.
        out.extend_from_slice(ZSH_AUTOLOADED.as_bytes());
    }
    Ok(out)
}

/// How the script calls this program back: by name when it was found on
/// `PATH` (a package's `/usr/bin/mobile-session`), else by its absolute
/// path (`./target/release/mobile-session completions bash`).
fn completer_path() -> String {
    let argv0: OsString = std::env::args_os().next().unwrap_or_else(|| BIN.into());
    let path = std::path::PathBuf::from(&argv0);
    if path.components().count() > 1 {
        if let Ok(abs) = std::path::absolute(&path) {
            return abs.to_string_lossy().into_owned();
        }
    }
    argv0.to_string_lossy().into_owned()
}

/// The value of an option among the words being completed, if typed
/// (`--long V`, `--long=V`, and `-S V` or `-SV` for a short form).
fn typed(
    words: impl Iterator<Item = OsString>,
    long: &str,
    short: Option<&str>,
) -> Option<OsString> {
    let mut words = words.skip_while(|w| w != "--").skip(1);
    let mut found = None;
    let long_eq = format!("{long}=");
    while let Some(w) = words.next() {
        let text = w.to_string_lossy();
        if w == long || short.is_some_and(|s| w == s) {
            found = words.next();
        } else if let Some(v) = text.strip_prefix(long_eq.as_str()) {
            found = Some(v.into());
        } else if let Some(v) = short
            .and_then(|s| text.strip_prefix(s))
            .filter(|v| !v.is_empty())
        {
            found = Some(v.into());
        }
    }
    found
}

/// Where the words being completed (or the environment) say the daemon
/// is, and how long to wait for its answer: a moment for a local socket,
/// a few seconds for another host (ssh logs in; it never asks anything).
fn typed_daemon() -> Option<(mobile_session::ClientBuilder, Duration)> {
    use mobile_session::{ClientBuilder, Destination, SshConnector, HOST_ENV};
    let socket = typed(std::env::args_os(), "--socket", None);
    let host = typed(std::env::args_os(), "--host", Some("-H"))
        .or_else(|| std::env::var_os(HOST_ENV))
        .and_then(|h| Destination::parse(h.to_str()?).ok());
    let local = |path: Option<std::path::PathBuf>| {
        let builder = match path {
            Some(p) => ClientBuilder::new().socket(p),
            None => ClientBuilder::new(),
        };
        (builder, Duration::from_secs(2))
    };
    Some(match host {
        Some(Destination::Ssh(mut address)) => {
            if let Some(s) = socket {
                address.socket = Some(s.into());
            }
            let ssh = SshConnector::from_env(address).ok()?.batch_mode(true);
            (ClientBuilder::new().connector(ssh), Duration::from_secs(3))
        }
        Some(Destination::Local(path)) => local(path.or(socket.map(Into::into))),
        None => local(socket.map(Into::into)),
    })
}

/// APP values: the daemon's app folders, each with its app's name, when
/// the daemon answers within a moment; nothing otherwise (completion must
/// never hang a shell).
pub fn app_folders() -> Vec<CompletionCandidate> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let Some((builder, limit)) = typed_daemon() else {
        return Vec::new();
    };
    let apps = rt.block_on(async {
        let client = builder
            .connect_timeout(Some(limit))
            .request_timeout(Some(Duration::from_secs(1)))
            .build();
        tokio::time::timeout(limit, client.apps()).await
    });
    match apps {
        Ok(Ok(apps)) => apps
            .into_iter()
            .map(|a| {
                let about = a.name.unwrap_or(a.app_id);
                CompletionCandidate::new(a.folder).help(Some(about.into()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_typed_on_the_line_is_the_one_asked() {
        let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        let typed_socket = |w: &[&str]| typed(words(w), "--socket", None);
        let typed_host = |w: &[&str]| typed(words(w), "--host", Some("-H"));
        assert_eq!(
            typed_host(&["ms", "--", "ms", "-H", "prod1", "sessions", ""]),
            Some("prod1".into())
        );
        assert_eq!(
            typed_host(&["ms", "--", "ms", "-Hadmin@prod1", ""]),
            Some("admin@prod1".into())
        );
        assert_eq!(
            typed_host(&["ms", "--", "ms", "--host=ssh://p:2", ""]),
            Some("ssh://p:2".into())
        );
        assert_eq!(
            typed_host(&["ms", "--", "ms", "--host", "p", "watch", "--app", ""]),
            Some("p".into())
        );
        assert_eq!(typed_host(&["ms", "--", "ms", "sessions", ""]), None);
        let typed = typed_socket;
        assert_eq!(
            typed(&["ms", "--", "ms", "--socket", "/s", "watch", "--app", ""]),
            Some("/s".into())
        );
        assert_eq!(
            typed(&["ms", "--", "ms", "sessions", "--socket=/t", ""]),
            Some("/t".into())
        );
        assert_eq!(typed(&["ms", "--", "ms", "sessions", ""]), None);
        // Words before the separator are this program's own.
        assert_eq!(typed(&["ms", "--socket", "/x", "--", "ms", ""]), None);
    }
}
