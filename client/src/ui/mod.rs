//! `mobile-session ui`: the session-management window in the terminal.
//!
//! - `state` — what is shown (no I/O), `keys` — what keys do to it;
//! - `view` — the order of the rows (filter + sort), a pure function;
//! - `render` — draws the state with ratatui;
//! - `io` — the task that talks to the daemon, follows `watch`, reconnects;
//! - `daemon` — the one adapter over the client library.
//!
//! The loop below owns the terminal: it reads keys, applies the daemon's
//! updates, computes the row order off the input path when the rows are
//! many, and draws.

mod daemon;
mod io;
mod keys;
mod model;
mod render;
mod state;
mod view;

use std::io::{stdout, IsTerminal, Stdout};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures_util::StreamExt;
use mobile_session::{Client, ClientBuilder};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::reveal::Revealed;

use self::io::Command;
use self::model::Row;
use self::state::{Effect, State};
use self::view::Query;

/// Up to this many rows the order is computed between two keys; above, on
/// the blocking pool while keys go on being read.
const INLINE_ROWS: usize = 5_000;

/// Scrolling through rows fetches the detail of the one the cursor rests on.
const DETAIL_DELAY: Duration = Duration::from_millis(60);

/// Runs the window on `client` (already connected, as `builder` says: it
/// makes the later connections) until the user quits.
pub async fn run(client: Client, builder: ClientBuilder) -> anyhow::Result<()> {
    if !stdout().is_terminal() {
        anyhow::bail!("`mobile-session ui` needs a terminal (standard output is not one)");
    }
    let host = client.host();
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (update_tx, update_rx) = mpsc::channel(64);
    let io_task = tokio::spawn(io::run(
        daemon::Daemon::new(client),
        builder,
        cmd_rx,
        update_tx,
    ));
    let result = {
        let mut terminal = TerminalGuard::enter()?;
        event_loop(&mut terminal.terminal, cmd_tx, update_rx, host.as_deref()).await
    };
    io_task.abort();
    result
}

/// Raw mode and the alternate screen, left on drop, on error and on panic.
struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let terminal = match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore_terminal();
                return Err(e).context("cannot open the terminal");
            }
        };
        // From here on, Drop restores the terminal whatever fails.
        let guard = Self { terminal };
        execute!(stdout(), EnterAlternateScreen)
            .context("cannot switch to the alternate screen")?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    // Each step on its own: one failing must not skip the others.
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// The order being computed on the blocking pool, with what it is for.
type OrderJob = JoinHandle<(Arc<Vec<Row>>, Query, Vec<u32>)>;

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    commands: mpsc::Sender<Command>,
    mut updates: mpsc::Receiver<io::Update>,
    host: Option<&str>,
) -> anyhow::Result<()> {
    let theme = render::Theme::from_env();
    let mut state = State::new();
    state.host = host.map(str::to_string);
    let mut keys = EventStream::new();
    let mut order_job: Option<OrderJob> = None;
    let mut detail_at: Option<Instant> = None;
    // Asked to stop by a signal: leave as after q, the terminal restored.
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    loop {
        if order_job.is_none() && state.view_is_stale() {
            if state.rows.len() <= INLINE_ROWS {
                state.refresh_view_now();
            } else {
                let (rows, query) = (state.rows.clone(), state.query.clone());
                order_job = Some(tokio::task::spawn_blocking(move || {
                    let order = view::compute(&rows, &query);
                    (rows, query, order)
                }));
            }
        }
        if state.wanted_detail() != state.detail_requested && detail_at.is_none() {
            detail_at = Some(Instant::now() + DETAIL_DELAY);
        }
        terminal
            .draw(|frame| render::draw(frame, &mut state, theme))
            .context("cannot draw the window")?;

        let effects = tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => state.on_key(k),
                // Resizes and the rest: the next draw adapts.
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            update = updates.recv() => match update {
                Some(u) => {
                    state.apply(u);
                    Vec::new()
                }
                None => anyhow::bail!("the daemon task stopped unexpectedly"),
            },
            done = wait_job(&mut order_job) => {
                order_job = None;
                let (rows, query, order) = done.context("sorting the rows failed")?;
                state.install_view(rows, query, order);
                Vec::new()
            },
            _ = sleep_until(detail_at.unwrap_or_else(Instant::now)), if detail_at.is_some() => {
                detail_at = None;
                match state.wanted_detail() {
                    Some(wanted) if state.detail_requested.as_ref() != Some(&wanted) => {
                        state.detail_requested = Some(wanted.clone());
                        vec![Effect::Send(Command::Show(wanted.0))]
                    }
                    _ => Vec::new(),
                }
            },
        };
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(()),
                // Never wait here: keys must go on being read.
                Effect::Send(cmd) => match commands.try_send(cmd) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        state.busy = None;
                        state.set_message("still busy with earlier requests: try again", true);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        anyhow::bail!("the daemon task stopped unexpectedly")
                    }
                },
                Effect::Repaint => terminal.clear().context("cannot repaint the window")?,
                Effect::Reveal(path) => {
                    let (text, error) = revealed(&path, host);
                    state.set_message(text, error);
                }
            }
        }
    }
}

async fn wait_job(
    job: &mut Option<OrderJob>,
) -> Result<(Arc<Vec<Row>>, Query, Vec<u32>), tokio::task::JoinError> {
    match job {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// Shows `path` and, where a desktop is there to show it, opens the file
/// manager on it (not for a file on another host). Returns the status line
/// and whether it is an error.
fn revealed(path: &str, host: Option<&str>) -> (String, bool) {
    if let Some(host) = host {
        return (format!("{path} on {host} (not on this machine)"), false);
    }
    match crate::reveal::reveal(Path::new(path)) {
        Revealed::Opened { program } => (format!("{path} (opened with {program})"), false),
        Revealed::NoDesktop => (
            format!("{path} (no desktop to open a file manager on)"),
            false,
        ),
        Revealed::Failed { program, error } => {
            (format!("{path} (cannot run {program}: {error})"), true)
        }
    }
}
