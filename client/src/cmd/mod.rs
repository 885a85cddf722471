//! Runs one command against the daemon: connects, asks, renders. The
//! daemon decides; each arm only turns arguments into a request and the
//! answer into text (`render`) and an exit code.

pub mod block;
mod change;
pub mod history;
pub mod notify;
pub mod purge;
mod show;
mod sign_in;

use clap::CommandFactory;
use mobile_session::proto::SessionSort;
use mobile_session::{AppRow, Client, SessionFilter, Status};

use crate::cli::{Cli, Command, SortArg, StatusArg};
use crate::exit::{emit, emit_bytes, DAEMON_AT, EXIT_UNAVAILABLE};
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
    if let Command::Sessions {
        seen_after,
        seen_before,
        sort: Some(SortArg::Id),
        ..
    } = &cli.command
    {
        if seen_after.is_some() || seen_before.is_some() {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--seen-after and --seen-before list by activity: leave out --sort id",
                )
                .exit();
        }
    }
    let builder = crate::remote::builder(cli.host.as_ref(), cli.socket.as_deref())?;
    // Read what comes from files or stdin before connecting: a missing file
    // is the user's error, not the daemon's.
    let input = Input::read(&cli.command)?;
    // Timeouts follow from each request (`Request::scales_with_data`).
    let client = builder.clone().connect().await?;
    // When it was searched for.
    let _ = DAEMON_AT.set(format!(" at {}", client.socket_path().display()));
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
            seen_after,
            seen_before,
            duplicates,
            sort,
        } => {
            let by_activity = seen_after.is_some() || seen_before.is_some();
            let filter = SessionFilter {
                app,
                status: status.map(status_of),
                email,
                device_token,
                invalid,
                seen_after_secs: seen_after.map(|d| d.as_secs()),
                seen_before_secs: seen_before.map(|d| d.as_secs()),
                duplicates,
                sort: match sort {
                    Some(SortArg::Activity) => SessionSort::Activity,
                    _ if by_activity => SessionSort::Activity,
                    _ => SessionSort::Id,
                },
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
        Command::Push {
            full,
            strict,
            dry_run,
        } => return change::push(&client, (full, strict, dry_run), &view).await,
        Command::Purge(args) => return purge::purge(&client, args, &view).await,
        Command::Dedupe(args) => return purge::dedupe(&client, args, &view).await,
        Command::Block(args) => return block::block(&client, args, &view).await,
        Command::Unblock(args) => return block::unblock(&client, args, &view).await,
        Command::Blocked => return block::blocked(&client, &view).await,
        Command::History(args) => return history::history(&client, args, &view).await,
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
            let socket = client.socket_path().display().to_string();
            let host = client.host();
            emit(&render::status(&status, &socket, host.as_deref(), &view))?;
        }
        Command::Watch { app } => return watch(&client, app, &view).await,
        Command::Ui => crate::ui::run(client, builder).await?,
        Command::Notify(args) => return notify::run(&client, args, &view).await,
        Command::Completions { .. } | Command::Man(_) | Command::DialStdio => {}
    }
    Ok(0)
}

/// Events until the daemon closes the stream (69), or until interrupted:
/// then it ends as the signal would (130, 143), having closed its
/// connection, so that an ssh connection of this run's own stops with it.
async fn watch(client: &Client, app: Option<String>, view: &View) -> anyhow::Result<u8> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut events = client.watch(app).await?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            event = events.next_event() => match event {
                Some(event) => emit(&render::event(&event?, view))?,
                None => break,
            },
            _ = interrupt.recv() => return Ok(130),
            _ = terminate.recv() => return Ok(143),
        }
    }
    eprintln!(
        "error: mobile-sessiond closed the event stream{} (it stopped or restarted)",
        DAEMON_AT.get().map(String::as_str).unwrap_or_default()
    );
    Ok(EXIT_UNAVAILABLE)
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
