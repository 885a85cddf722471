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

/// The `--socket PATH` among the words being completed, if typed.
fn typed_socket(words: impl Iterator<Item = OsString>) -> Option<OsString> {
    let mut words = words.skip_while(|w| w != "--").skip(1);
    let mut found = None;
    while let Some(w) = words.next() {
        if w == "--socket" {
            found = words.next();
        } else if let Some(path) = w.to_str().and_then(|w| w.strip_prefix("--socket=")) {
            found = Some(path.into());
        }
    }
    found
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
    let mut builder = mobile_session::ClientBuilder::new();
    if let Some(socket) = typed_socket(std::env::args_os()) {
        builder = builder.socket(socket);
    }
    let apps = rt.block_on(async {
        let client = builder
            .connect_timeout(Some(Duration::from_millis(500)))
            .request_timeout(Some(Duration::from_secs(1)))
            .build();
        tokio::time::timeout(Duration::from_secs(2), client.apps()).await
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
        let typed = |w: &[&str]| typed_socket(words(w));
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
