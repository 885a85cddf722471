//! Shell completion as a shell does it: bash, zsh and fish each load the
//! script that `mobile-session completions SHELL` prints and ask what a
//! line completes to. The script calls the real client back, which answers
//! from its command-line definition and, for APP values, from the daemon.
//!
//! The bash lines here are the ones clap_complete's ahead-of-time script
//! gets wrong for a hyphenated binary name (clap-rs/clap#6421: nothing
//! after a subcommand completes); should that script come back, they fail.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

/// The script for `shell`, written where a shell can load it (zsh's under
/// the name compinit autoloads from `$fpath`).
fn script(dir: &Path, shell: Shell) -> PathBuf {
    let out = Command::new(client_bin())
        .args(["completions", shell.name()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.join(match shell {
        Shell::Zsh => "_mobile-session".to_string(),
        other => format!("mobile-session.{}", other.name()),
    });
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// What `shell` offers for the line `mobile-session LINE` (the cursor at
/// its end; a trailing space starts a new word): the values only.
fn complete(shell: Shell, script: &Path, line: &str) -> Vec<String> {
    let full = format!("mobile-session {line}");
    let mut cmd = match shell {
        // The function that `complete -F` registered for mobile-session,
        // called as bash calls it.
        Shell::Bash => {
            let mut c = Command::new("bash");
            c.args(["--norc", "--noprofile", "-c"]).arg(
                r#"source "$SCRIPT"
spec=$(complete -p mobile-session) || exit 3
fn=${spec##*-F }; fn=${fn%% *}
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$LINE; COMP_POINT=${#LINE}; COMP_TYPE=9
"$fn" mobile-session "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#,
            );
            c
        }
        // Loaded from $fpath as compinit would, with zsh's completion
        // builtins (which need the line editor) reduced to printing.
        Shell::Zsh => {
            let mut c = Command::new("zsh");
            c.arg("-f").arg("-c").arg(
                r#"compdef() { : }
_describe() { local name=${@[-1]}; print -rl -- ${(P)name} }
fpath=("${SCRIPT:h}" $fpath); autoload -Uz _mobile-session
words=(${=LINE}); [[ "$LINE" == *" " ]] && words+=("")
CURRENT=${#words}
_mobile-session"#,
            );
            c
        }
        Shell::Fish => {
            let mut c = Command::new("fish");
            c.args(["--no-config", "-c"])
                .arg(r#"source $SCRIPT; complete --do-complete "$LINE""#);
            c
        }
    };
    let out = cmd
        .env("SCRIPT", script)
        .env("LINE", &full)
        .env_remove("MOBILE_SESSION_SOCKET")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (.ci/run installs it): {e}", shell.name()));
    assert!(
        out.status.success(),
        "{} on {full:?}: {}{}",
        shell.name(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        // zsh: value:help; fish: value<TAB>help.
        .map(|l| l.split(['\t', ':']).next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_shell_completes_subcommands_their_options_and_values() {
    let dir = tempfile::tempdir().unwrap();
    for shell in SHELLS {
        let script = script(dir.path(), shell);
        let got = |line: &str| complete(shell, &script, line);
        let name = shell.name();
        assert_eq!(got("set-st"), ["set-status"], "{name}");
        assert_eq!(got("sessions --st"), ["--status"], "{name}");
        assert_eq!(got("accept --all-p"), ["--all-pending"], "{name}");
        let push = got("push --");
        for option in ["--full", "--strict", "--json", "--socket", "--host"] {
            assert!(push.iter().any(|o| o == option), "{name}: {push:?}");
        }
        assert!(
            push.iter().all(|o| o.starts_with("--")),
            "{name}: file names offered: {push:?}"
        );
        assert_eq!(got("sessions --status "), ["accepted", "pending"], "{name}");
        assert_eq!(got("set-status p"), ["pending"], "{name}");
        assert_eq!(got("ded"), ["dedupe"], "{name}");
        assert_eq!(got("purge --ina"), ["--inactive"], "{name}");
        assert_eq!(got("sessions --seen-b"), ["--seen-before"], "{name}");
        assert_eq!(got("sessions --sort a"), ["activity"], "{name}");
        assert_eq!(got("block --rea"), ["--reason"], "{name}");
        assert_eq!(got("push --dr"), ["--dry-run"], "{name}");
        let shells = got("completions ");
        for s in ["bash", "zsh", "fish"] {
            assert!(shells.iter().any(|o| o == s), "{name}: {shells:?}");
        }
    }
}

#[test]
fn app_values_come_from_the_daemon_when_it_answers() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let socket = d.socket.display().to_string();
    let nobody = dir.path().join("nobody.sock").display().to_string();
    for shell in SHELLS {
        let script = script(dir.path(), shell);
        let got = |line: &str| complete(shell, &script, line);
        let name = shell.name();
        let apps = got(&format!("--socket {socket} sessions "));
        assert!(
            apps.iter().any(|a| a == IOS) && apps.iter().any(|a| a == ANDROID),
            "{name}: {apps:?}"
        );
        assert_eq!(
            got(&format!("--socket {socket} watch --app com.")),
            [ANDROID],
            "{name}"
        );
        assert_eq!(
            got(&format!("--socket {socket} accept --all-pending UTT")),
            [IOS],
            "{name}"
        );
        // No daemon there: no value, and no error in the shell.
        assert!(
            got(&format!("--socket {nobody} watch --app com.")).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn a_script_made_by_name_calls_the_client_by_name() {
    // As packaging/deb/build makes them: the installed scripts must call
    // /usr/bin/mobile-session, not the build tree's binary.
    let bin_dir = client_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for shell in SHELLS {
        let out = Command::new("sh")
            .args([
                "-c",
                &format!("mobile-session completions {}", shell.name()),
            ])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(!text.contains(&bin_dir.display().to_string()), "{text}");
        assert!(
            text.contains("COMPLETE=") && text.contains("mobile-session"),
            "{text}"
        );
    }
}
