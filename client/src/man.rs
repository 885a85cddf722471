//! Man pages: `mobile-session(1)`, `mobile-session-COMMAND(1)` for each
//! command, and `mobile-sessiond(8)` from the daemon's own command-line
//! definition. clap_mangen renders the parts it knows (name, synopsis,
//! options, commands); this module adds EXAMPLES (from each command's
//! `after_help`), EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::cli::Cli;

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success; verify: the session is accepted; authenticate: accepted."),
    (
        "1",
        "An error (show --json of a session file that is not a JSON object included); the message on stderr starts with \"error:\".",
    ),
    (
        "2",
        "Bad usage: an unknown option, a SESSION that is not 4+ hex characters or APP/ID, a bad status word, a request larger than the daemon takes.",
    ),
    ("3", "verify: the session is pending; authenticate: answered pending."),
    (
        "4",
        "verify: the token is unknown or malformed; authenticate: refused; user-info, logout: unknown token.",
    ),
    (
        "69",
        "The daemon cannot be reached, is busy, or went away (watch); the message names the socket paths tried. With --host: ssh cannot reach the host either, or the daemon there cannot be reached; the message names the host.",
    ),
    (
        "77",
        "Permission denied on the socket, or refused by the daemon; the message names the group to join. With --host: the same on that host (as the remote user), or ssh could not log in.",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "MOBILE_SESSION_SOCKET",
        "The daemon's socket when --socket is not given; no other path is tried then.",
    ),
    (
        "XDG_RUNTIME_DIR",
        "Holds the per-user socket, mobile-sessiond/mobile-sessiond.sock, tried before the system socket.",
    ),
    (
        "MOBILE_SESSION_HOST",
        "The daemon's host when --host is not given, in the same forms (ssh://[USER@]HOST[:PORT][/SOCKET], [USER@]HOST, unix://[SOCKET]).",
    ),
    (
        "MOBILE_SESSION_SSH_COMMAND",
        "The command run instead of ssh for --host, as GIT_SSH_COMMAND is for git: split into words as git splits it (blanks separate words; single quotes keep everything; double quotes keep blanks and take backslash escapes; no shell runs it). It must take OpenSSH's options; mobile-session adds -T, -o, -p, -l, -N, -O and -- itself.",
    ),
    ("NO_COLOR", "When set and not empty, no colours even on a terminal."),
];

const FILES: &[(&str, &str)] = &[
    (
        "$XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock",
        "The per-user socket (/tmp/mobile-sessiond-UID/mobile-sessiond.sock without XDG_RUNTIME_DIR), tried first.",
    ),
    (
        "/run/mobile-sessiond/mobile-sessiond.sock",
        "The system service's socket (/var/run/mobile-sessiond/… on macOS), tried next.",
    ),
];

/// The root command as built for rendering (no `help` pseudo-command).
fn client_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `mobile-session.1` alone, for `mobile-session man`.
pub fn render_main(w: &mut dyn Write) -> io::Result<()> {
    let cmd = client_command();
    render_page(w, &cmd, "1", Extras::client(&cmd))
}

/// Every page into `dir`; returns the files written.
pub fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = client_command();
    let mut written = Vec::new();
    let mut write = |name: String, render: &dyn Fn(&mut dyn Write) -> io::Result<()>| {
        let path = dir.join(name);
        let mut file = io::BufWriter::new(std::fs::File::create(&path)?);
        render(&mut file)?;
        file.flush()?;
        written.push(path);
        io::Result::Ok(())
    };
    write("mobile-session.1".into(), &|w| {
        render_page(w, &cmd, "1", Extras::client(&cmd))
    })?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("mobile-session-{}.1", sub.get_name());
        write(name, &|w| render_page(w, sub, "1", Extras::client(&cmd)))?;
    }
    let mut daemon = mobile_sessiond_cli::command();
    daemon.build();
    write("mobile-sessiond.8".into(), &|w| {
        render_page(w, &daemon, "8", Extras::daemon())
    })?;
    Ok(written)
}

struct Extras {
    exit: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    see_also: Vec<String>,
}

impl Extras {
    fn client(root: &clap::Command) -> Self {
        let mut see_also: Vec<String> = root
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("mobile-session-{}(1)", s.get_name()))
            .collect();
        see_also.insert(0, "mobile-session(1)".into());
        see_also.push("mobile-sessiond(8)".into());
        Self {
            exit: EXIT_STATUS,
            env: ENVIRONMENT,
            files: FILES,
            see_also,
        }
    }

    fn daemon() -> Self {
        Self {
            exit: mobile_sessiond_cli::man::EXIT_STATUS,
            env: mobile_sessiond_cli::man::ENVIRONMENT,
            files: mobile_sessiond_cli::man::FILES,
            see_also: vec![
                "mobile-session(1)".into(),
                "systemd.service(5)".into(),
                "launchd.plist(5)".into(),
            ],
        }
    }
}

fn render_page(
    w: &mut dyn Write,
    cmd: &clap::Command,
    section: &str,
    extras: Extras,
) -> io::Result<()> {
    let man = Man::new(cmd.clone()).section(section);
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(w)?;
    }
    let own_name = cmd
        .get_display_name()
        .map(|n| format!("{n}({section})"))
        .unwrap_or_default();
    let mut roff = Roff::new();
    examples(&mut roff, cmd);
    definitions(&mut roff, "EXIT STATUS", extras.exit);
    definitions(&mut roff, "ENVIRONMENT", extras.env);
    definitions(&mut roff, "FILES", extras.files);
    let see_also: Vec<&str> = extras
        .see_also
        .iter()
        .map(String::as_str)
        .filter(|s| *s != own_name)
        .collect();
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(see_also.join(", "))]);
    roff.to_writer(w)?;
    man.render_version_section(w)
}

/// The lines of `after_help` below "Examples:", one per line, unfilled.
fn examples(roff: &mut Roff, cmd: &clap::Command) {
    let Some(after) = cmd.get_after_help().map(|h| h.to_string()) else {
        return;
    };
    let lines: Vec<&str> = after
        .lines()
        .skip_while(|l| !l.starts_with("Examples:"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return;
    }
    roff.control("SH", ["EXAMPLES"]);
    roff.control("nf", []);
    for l in lines {
        roff.text([roman(l)]);
    }
    roff.control("fi", []);
}

fn definitions(roff: &mut Roff, title: &str, items: &[(&str, &str)]) {
    roff.control("SH", [title]);
    for (term, text) in items {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_the_extra_sections() {
        let dir = std::env::temp_dir().join(format!("mobile-session-man-{}", std::process::id()));
        let written = write_all(&dir).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for must in [
            "mobile-session.1",
            "mobile-session-sessions.1",
            "mobile-session-accept.1",
            "mobile-sessiond.8",
        ] {
            assert!(
                names.iter().any(|n| n == must),
                "{must} missing from {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        for p in &written {
            let text = std::fs::read_to_string(p).unwrap();
            for section in [
                ".SH \"EXIT STATUS\"",
                ".SH ENVIRONMENT",
                ".SH FILES",
                ".SH \"SEE ALSO\"",
            ] {
                assert!(text.contains(section), "{} lacks {section}", p.display());
            }
        }
        let daemon = std::fs::read_to_string(dir.join("mobile-sessiond.8")).unwrap();
        assert!(
            daemon.contains("/etc/mobile\\-sessiond/config.toml"),
            "{daemon}"
        );
        assert!(
            daemon.contains(".TH mobile\\-sessiond 8") || daemon.contains(".TH mobile-sessiond 8"),
            "{daemon}"
        );
        let sub = std::fs::read_to_string(dir.join("mobile-session-verify.1")).unwrap();
        assert!(sub.contains(".SH EXAMPLES"), "{sub}");
        // --host, on every page, with its variables.
        for page in [
            "mobile-session.1",
            "mobile-session-status.1",
            "mobile-session-ui.1",
        ] {
            let text = std::fs::read_to_string(dir.join(page)).unwrap();
            for must in [
                "\\-\\-host",
                "MOBILE_SESSION_HOST",
                "MOBILE_SESSION_SSH_COMMAND",
            ] {
                assert!(text.contains(must), "{page} lacks {must}");
            }
        }
        // The helper ssh runs over there has no page.
        assert!(!names.iter().any(|n| n.contains("dial")), "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
