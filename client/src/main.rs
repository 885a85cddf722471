//! `mobile-session`: renders what the daemon answers. No business logic here.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 pending (`verify`,
//! `authenticate`); 4 unknown token or refused (`verify`, `authenticate`,
//! `user-info`, `logout`); 69 the daemon cannot be reached, is busy or went
//! away; 77 permission denied on the socket or refused by the daemon; 78
//! `notify` of an app without usable push credentials.

mod cli;
mod man;
mod notify_cmd;
mod render;
mod reveal;
mod ui;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, StatusArg};
use mobile_session::proto::paths::{
    client_socket, effective_uid, resolve_client_socket, ClientSocket, SOCKET_ENV,
};
use mobile_session::{
    AuthReply, Client, ClientBuilder, ClientError, ErrorCode, SessionFilter, Status, Unpushed,
    VerifyStatus,
};
use render::View;

const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PENDING: u8 = 3;
const EXIT_UNKNOWN: u8 = 4;
const EXIT_UNAVAILABLE: u8 = 69;
const EXIT_NOPERM: u8 = 77;

/// Standard output was closed by its reader (`mobile-session sessions | head -1`):
/// not an error worth a word.
#[derive(Debug, thiserror::Error)]
#[error("standard output is closed")]
struct StdoutClosed;

/// A usage error found after parsing (e.g. two arguments both wanting stdin).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        // Local commands need no daemon (nor a runtime).
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "mobile-session", &mut text);
            emit_bytes(&text).map(|()| 0)
        }
        Command::Man(args) => man_command(args.out_dir.as_deref()),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")
            .and_then(|rt| rt.block_on(run(cli))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report(&e)),
    }
}

/// Prints `e` (with what to do next) and returns the exit code.
fn report(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<StdoutClosed>().is_some() {
        return 0;
    }
    eprintln!("error: {e:#}");
    let code = exit_code(e);
    if let Some(ce) = e.downcast_ref::<ClientError>() {
        if let Some(hint) = hint(ce) {
            eprintln!("{hint}");
        }
    }
    code
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
        Some(ClientError::Daemon(r)) => match r.code {
            ErrorCode::BadRequest => EXIT_USAGE,
            ErrorCode::UnknownToken | ErrorCode::Refused => EXIT_UNKNOWN,
            ErrorCode::Busy | ErrorCode::ShuttingDown => EXIT_UNAVAILABLE,
            ErrorCode::NotifyConfig => notify_cmd::EXIT_CONFIG,
            _ => EXIT_ERROR,
        },
        _ => EXIT_ERROR,
    }
}

/// What to do next, for the errors that have an answer.
fn hint(e: &ClientError) -> Option<String> {
    match e {
        ClientError::Unreachable { path, tried, .. } => Some(unreachable_hint(path, tried)),
        ClientError::PermissionDenied { group: Some(g), .. } if !g.starts_with("gid ") => {
            Some(format!(
                "hint: members of group {g} may use the socket: ask an administrator to run \
             `sudo usermod -aG {g} {}`, then log in again",
                std::env::var("USER").unwrap_or_else(|_| "$USER".into())
            ))
        }
        ClientError::PermissionDenied { path, .. } => Some(format!(
            "hint: ask an administrator for access to {}",
            path.display()
        )),
        ClientError::Busy { .. } => {
            Some("hint: the daemon serves as many clients as it may; try again shortly".into())
        }
        ClientError::Timeout { .. } => Some(format!(
            "hint: mobile-sessiond{} may be stuck or overloaded: its log says what it is doing \
             (`journalctl -u mobile-sessiond`); try again",
            at_socket()
        )),
        ClientError::ConnectionLost { .. } => Some(format!(
            "hint: mobile-sessiond{} went away (it stopped, restarted or crashed): \
             `mobile-session status` says whether it is back, its log why",
            at_socket()
        )),
        ClientError::TooLarge { .. } => {
            Some("hint: name fewer sessions at once, or make the body or filter smaller".into())
        }
        _ => None,
    }
}

/// The socket this run talks to, once connected: errors after that name it.
static SOCKET_IN_USE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// " at PATH" once connected, else nothing.
fn at_socket() -> String {
    SOCKET_IN_USE
        .get()
        .map(|p| format!(" at {}", p.display()))
        .unwrap_or_default()
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

/// Writes to stdout; a reader that went away ends the program quietly.
fn emit(text: &str) -> anyhow::Result<()> {
    emit_bytes(text.as_bytes())
}

fn emit_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

fn man_command(out_dir: Option<&Path>) -> anyhow::Result<u8> {
    match out_dir {
        Some(dir) => {
            let written = man::write_all(dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            let list: String = written
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect();
            emit(&list)?;
        }
        None => {
            let mut page = Vec::new();
            man::render_main(&mut page).context("cannot render the man page")?;
            emit_bytes(&page)?;
        }
    }
    Ok(0)
}

fn status_of(s: StatusArg) -> Status {
    match s {
        StatusArg::Accepted => Status::Accepted,
        StatusArg::Pending => Status::Pending,
    }
}

/// Colours only on a terminal, and never when `NO_COLOR` is set (and not empty).
fn use_color() -> bool {
    let no_color = matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// Commands whose work grows with the data (a push re-reads files) get no
/// request timeout; the rest get the library's default. The window does the
/// same for its push and rescan (`ui/daemon.rs`).
fn scales_with_data(cmd: &Command) -> bool {
    match cmd {
        Command::Push { .. } | Command::Refresh | Command::Notify(_) => true,
        Command::SetStatus { push, .. } | Command::Delete { push, .. } => *push,
        Command::Accept { push, .. } => *push,
        _ => false,
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let view = View {
        json: cli.json,
        quiet: cli.quiet,
        legend: !cli.no_legend,
        color: use_color() && !cli.json,
    };
    let socket: ClientSocket = client_socket(cli.socket.as_deref());
    if let ClientSocket::Explicit(path) = &socket {
        let _ = SOCKET_IN_USE.set(path.clone());
    }
    // Read what comes from files or stdin before connecting: a missing file
    // is the user's error, not the daemon's.
    let input = Input::read(&cli.command)?;
    let mut builder = ClientBuilder::new().socket_choice(socket);
    if scales_with_data(&cli.command) {
        builder = builder.request_timeout(None);
    }
    let client = builder.connect().await?;
    let _ = SOCKET_IN_USE.set(client.socket_path()); // when it was searched for
    let hints = !cli.json && !cli.quiet;
    match cli.command {
        Command::Apps => apps(&client.apps().await?, &view)?,
        Command::Refresh => apps(&client.refresh().await?, &view)?,
        Command::Sessions {
            app,
            status,
            email,
            device_token,
            invalid,
        } => {
            let filter = SessionFilter {
                app,
                status: status.map(status_of),
                email,
                device_token,
                invalid,
            };
            let rows = client.sessions(filter).await?;
            emit(&render::sessions(&rows, &view, invalid))?;
        }
        Command::Show { session } => {
            let text = client.show(&session).await?;
            // Admins get an invalid file as stored, which may not be JSON.
            match serde_json::from_str::<serde_json::Value>(&text) {
                // Valid JSON text holds no raw control character.
                Ok(serde_json::Value::Object(_)) if view.json => {
                    emit(&format!("{}\n", text.trim_end()))?
                }
                Ok(v) if view.json => return Err(not_an_object(&session, &v).into()),
                Ok(v) => emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))?,
                Err(e) if view.json => return Err(not_json(&session, &e).into()),
                Err(_) => emit(&render::stored_text(&text))?,
            }
        }
        Command::Path { session, open } => {
            let path = client.path(&session).await?;
            if view.json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({ "path": path.display().to_string() })
                ))?;
            } else {
                emit(&format!("{}\n", path.display()))?;
            }
            if open {
                // The path is printed above whatever happens here.
                match reveal::reveal(&path) {
                    reveal::Revealed::Opened { .. } => {}
                    reveal::Revealed::NoDesktop => {
                        eprintln!("not opened: no desktop to open a file manager on")
                    }
                    reveal::Revealed::Failed { program, error } => {
                        anyhow::bail!("cannot run {program} to reveal the file: {error}")
                    }
                }
            }
        }
        Command::SetStatus {
            status,
            sessions,
            push,
        } => {
            let report = client
                .set_status(status_of(status), &sessions, push)
                .await?;
            changed(&report, &view, hints)?;
        }
        Command::Accept {
            sessions,
            all_pending,
            push,
        } => {
            let targets = match all_pending {
                Some(app) => pending_sessions(&client, app).await?,
                None => sessions,
            };
            if targets.is_empty() {
                if hints {
                    eprintln!("no pending session");
                }
                // Nothing to accept; the push asked for still runs (earlier
                // accepts may wait for it).
                let push = if push {
                    Some(client.push(false).await?)
                } else {
                    None
                };
                let report = mobile_session::ChangeReport {
                    sessions: Vec::new(),
                    push,
                };
                emit(&render::changed(&report, &view))?;
                return Ok(0);
            }
            let report = client.set_status(Status::Accepted, &targets, push).await?;
            changed(&report, &view, hints)?;
        }
        Command::Delete {
            sessions,
            push,
            yes,
            dry_run,
        } => {
            let ask = !yes
                && !dry_run
                && sessions.len() > 1
                && std::io::stdin().is_terminal()
                && std::io::stderr().is_terminal();
            if dry_run || ask {
                let targets = resolve_targets(&client, &sessions).await?;
                if dry_run {
                    emit(&render::dry_run(&targets, &view))?;
                    return Ok(0);
                }
                if !confirm_delete(&targets)? {
                    eprintln!("nothing deleted");
                    return Ok(EXIT_ERROR);
                }
            }
            let report = client.delete(&sessions, push).await?;
            changed(&report, &view, hints)?;
        }
        Command::Push { full, strict } => {
            let report = client.push(full).await?;
            emit(&render::push(&report, &view))?;
            if strict && !report.invalid.is_empty() {
                eprintln!(
                    "error: {} session file(s) are invalid (--strict)",
                    report.invalid.len()
                );
                return Ok(EXIT_ERROR);
            }
        }
        Command::Verify { .. } => {
            let reply = client.verify(input.token()).await?;
            emit(&render::verify(&reply, &view))?;
            return Ok(match reply.status {
                VerifyStatus::Accepted => 0,
                VerifyStatus::Pending => EXIT_PENDING,
                VerifyStatus::Unknown => EXIT_UNKNOWN,
            });
        }
        Command::Authenticate { .. } => return authenticate(&client, input.body(), &view).await,
        Command::UserInfo { .. } => {
            let stored = client.user_info(input.token(), input.body()).await?;
            emit(&render::session_done("stored", &stored, &view))?;
        }
        Command::Logout { .. } => {
            let gone = client.logout(input.token()).await?;
            emit(&render::session_done("logged out", &gone, &view))?;
        }
        Command::Status => {
            let status = client.status().await?;
            let socket = client.socket_path();
            emit(&render::status(
                &status,
                &socket.display().to_string(),
                &view,
            ))?;
        }
        Command::Watch { app } => {
            let mut events = client.watch(app).await?;
            while let Some(event) = events.next_event().await {
                emit(&render::event(&event?, &view))?;
            }
            eprintln!(
                "error: mobile-sessiond closed the event stream at {} (it stopped or restarted)",
                client.socket_path().display()
            );
            return Ok(EXIT_UNAVAILABLE);
        }
        Command::Ui => {
            let socket = client.socket_path();
            ui::run(client, &socket).await?
        }
        Command::Notify(args) => return notify_cmd::run(&client, args, &view).await,
        Command::Completions { .. } | Command::Man(_) => {}
    }
    Ok(0)
}

fn apps(rows: &[mobile_session::AppRow], view: &View) -> anyhow::Result<()> {
    if rows.is_empty() && !view.json && !view.quiet {
        eprintln!("no app folder in MobileApps yet");
    }
    for a in rows.iter().filter(|a| a.unreadable) {
        eprintln!(
            "warning: mobile-sessiond cannot list {}; its sessions are shown as last read",
            a.folder
        );
    }
    emit(&render::apps(rows, view))
}

fn changed(report: &mobile_session::ChangeReport, view: &View, hints: bool) -> anyhow::Result<()> {
    emit(&render::changed(report, view))?;
    if report.push.is_none() && hints {
        eprintln!("not live yet: run `mobile-session push` to apply");
    }
    Ok(())
}

/// `show --json` of a file that is not JSON: nothing on stdout, and the
/// error (and exit status) of an invalid file.
fn not_json(session: &str, e: &serde_json::Error) -> ClientError {
    ClientError::Daemon(mobile_session::ErrorReply {
        code: ErrorCode::InvalidFile,
        message: format!(
            "the session file of {session} is not valid JSON ({e}); \
             `mobile-session show {session}` without --json prints it as stored"
        ),
    })
}

/// `show --json` of a file that is JSON but not an object (4D's code 2).
fn not_an_object(session: &str, v: &serde_json::Value) -> ClientError {
    let kind = match v {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    };
    ClientError::Daemon(mobile_session::ErrorReply {
        code: ErrorCode::InvalidFile,
        message: format!(
            "the session file of {session} is {kind}, not a JSON object; \
             `mobile-session show {session}` without --json prints it as stored"
        ),
    })
}

/// `accept --all-pending [APP]`: every pending session file, as APP/ID.
async fn pending_sessions(client: &Client, app: String) -> anyhow::Result<Vec<String>> {
    let filter = SessionFilter {
        app: Some(app).filter(|a| !a.is_empty()),
        status: Some(Status::Pending),
        ..SessionFilter::default()
    };
    Ok(client
        .sessions(filter)
        .await?
        .into_iter()
        .filter(|r| {
            r.status == Some(Status::Pending)
                && r.invalid.is_none()
                && r.unpushed != Some(Unpushed::Deleted)
        })
        .map(|r| format!("{}/{}", r.app, r.id))
        .collect())
}

/// `(app, id, path)` of each SESSION, as the daemon resolves it.
async fn resolve_targets(
    client: &Client,
    sessions: &[String],
) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut out = Vec::with_capacity(sessions.len());
    for s in sessions {
        let path = client.path(s).await?;
        let name = |p: Option<&Path>| {
            p.and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let id = name(Some(&path));
        let app = name(path.parent());
        out.push((app, id, path.display().to_string()));
    }
    Ok(out)
}

/// Asks on the terminal; anything but y/yes declines.
fn confirm_delete(targets: &[(String, String, String)]) -> anyhow::Result<bool> {
    for (app, id, _) in targets {
        eprintln!("  {app}/{id}");
    }
    eprint!("delete these {} sessions? [y/N] ", targets.len());
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

async fn authenticate(client: &Client, body: &str, view: &View) -> anyhow::Result<u8> {
    let reply = match client.authenticate(body).await {
        Ok(r) => r,
        Err(ClientError::Daemon(e)) if e.code == ErrorCode::Refused => {
            // A refusal is an answer: JSON readers get the same shape as
            // for any sign-in, `success` false (README.md, "JSON output").
            if view.json {
                let refused = AuthReply {
                    success: false,
                    id: None,
                    status: None,
                    token: None,
                    status_text: e.message.clone(),
                    user_info: None,
                };
                emit(&render::authenticated(&refused, view))?;
            }
            eprintln!("refused: {}", e.message);
            return Ok(EXIT_UNKNOWN);
        }
        Err(e) => return Err(e.into()),
    };
    emit(&render::authenticated(&reply, view))?;
    Ok(match (reply.success, reply.status) {
        (false, _) => EXIT_UNKNOWN,
        (true, Some(Status::Pending)) => EXIT_PENDING,
        (true, _) => 0,
    })
}

/// Tokens and bodies, read from arguments, files or stdin before connecting.
#[derive(Default)]
struct Input {
    token: Option<String>,
    body: Option<String>,
}

impl Input {
    fn read(cmd: &Command) -> anyhow::Result<Self> {
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
            Command::Authenticate { file } => input.body = Some(read_body(file.as_deref())?),
            _ => {}
        }
        Ok(input)
    }

    fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    fn body(&self) -> &str {
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
}
