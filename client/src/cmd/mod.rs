//! Runs one command against the daemon: connects, asks, renders. The
//! daemon decides; each arm only turns arguments into a request and the
//! answer into text (`render`) and an exit code.

mod change;
pub mod notify;
mod show;
mod sign_in;

use mobile_session::proto::paths::{client_socket, ClientSocket};
use mobile_session::{AppRow, ClientBuilder, SessionFilter, Status};

use crate::cli::{Cli, Command, StatusArg};
use crate::exit::{emit, emit_bytes, EXIT_UNAVAILABLE, SOCKET_IN_USE};
use crate::input::Input;
use crate::render::{self, View};

pub fn status_of(s: StatusArg) -> Status {
    match s {
        StatusArg::Accepted => Status::Accepted,
        StatusArg::Pending => Status::Pending,
    }
}

/// Colours only on a terminal, and never when `NO_COLOR` is set (and not empty).
fn use_color() -> bool {
    use std::io::IsTerminal;
    let no_color = matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
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
    // Timeouts follow from each request (`Request::scales_with_data`).
    let client = ClientBuilder::new().socket_choice(socket).connect().await?;
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
            if render::sessions_by_page(&view) {
                return sessions_by_page(&client, filter, &view).await;
            }
            let rows = client.sessions(filter).await?;
            emit(&render::sessions(&rows, &view, invalid))?;
        }
        Command::Show { session } => show::show(&client, &session, &view).await?,
        Command::Path { session, open } => show::path(&client, &session, open, &view).await?,
        Command::SetStatus {
            status,
            sessions,
            push,
        } => {
            let report = client
                .set_status(status_of(status), &sessions, push)
                .await?;
            change::changed(&report, &view, hints)?;
        }
        Command::Accept {
            sessions,
            all_pending,
            push,
        } => return change::accept(&client, sessions, all_pending, push, &view, hints).await,
        Command::Delete {
            sessions,
            push,
            yes,
            dry_run,
        } => return change::delete(&client, &sessions, push, yes, dry_run, &view, hints).await,
        Command::Push { full, strict } => return change::push(&client, full, strict, &view).await,
        Command::Verify { .. } => return sign_in::verify(&client, input.token(), &view).await,
        Command::Authenticate { ip, .. } => {
            return sign_in::authenticate(&client, input.body(), ip.as_deref(), &view).await
        }
        Command::UserInfo { .. } => {
            let stored = client.user_info(input.token(), input.body()).await;
            let stored = sign_in::answered(stored, &view)?;
            emit(&render::session_done("stored", &stored, &view))?;
        }
        Command::Logout { .. } => {
            let gone = sign_in::answered(client.logout(input.token()).await, &view)?;
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
            crate::ui::run(client, &socket).await?
        }
        Command::Notify(args) => return notify::run(&client, args, &view).await,
        Command::Completions { .. } | Command::Man(_) => {}
    }
    Ok(0)
}

fn apps(rows: &[AppRow], view: &View) -> anyhow::Result<()> {
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

/// `sessions --json` / `--quiet`: each page printed as it arrives, so the
/// client holds one page whatever the number of sessions.
async fn sessions_by_page(
    client: &mobile_session::Client,
    filter: SessionFilter,
    view: &View,
) -> anyhow::Result<u8> {
    let mut shown = 0;
    // The real reason a page could not be printed (stdout closed…).
    let mut failed: Option<anyhow::Error> = None;
    let listed = client
        .sessions_by_page(filter, |rows| {
            let printed = emit_bytes(&render::sessions_page(&rows, view, shown));
            shown += rows.len();
            printed.map_err(|e| {
                failed = Some(e);
                mobile_session::ClientError::Protocol("cannot print the listing".into())
            })
        })
        .await;
    if let Some(e) = failed {
        return Err(e);
    }
    listed?;
    emit(render::sessions_end(view, shown))?;
    Ok(0)
}
