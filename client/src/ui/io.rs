//! The daemon task: carries out the window's [`Command`]s one at a time,
//! follows `watch` and reloads after events (debounced), and reconnects
//! when the daemon goes away. It reports everything as [`Update`]s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mobile_session::{ClientBuilder, ClientError};
use mobile_session_proto::{AppRow, ChangeReport, Event, PushReport, Role, Status};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::daemon::{connection_lost, describe, Daemon, Events};
use super::model::{Row, SessionKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Re-read the apps and sessions.
    Reload,
    /// Have the daemon rescan the folders, then reload.
    Rescan,
    /// The session's JSON for the detail pane.
    Show(SessionKey),
    SetStatus {
        status: Status,
        keys: Vec<SessionKey>,
    },
    Delete {
        keys: Vec<SessionKey>,
    },
    Push,
}

#[derive(Debug)]
pub enum Update {
    Connected {
        role: Role,
        version: String,
    },
    /// The connection is lost; reconnecting.
    Gone {
        reason: String,
    },
    Loaded {
        apps: Vec<AppRow>,
        rows: Arc<Vec<Row>>,
    },
    Detail {
        key: SessionKey,
        result: Result<String, String>,
    },
    /// A status change (`Some`) or a deletion (`None`) was written.
    Changed {
        status: Option<Status>,
        report: ChangeReport,
    },
    Pushed(PushReport),
    Rescanned {
        apps: usize,
    },
    /// A request the daemon refused or failed; the connection is fine.
    Failed {
        what: &'static str,
        message: String,
    },
    /// The latest event, and how many arrived since the last report.
    Events {
        last: Event,
        count: u64,
    },
}

/// Waits this long after an event before reloading, so that a burst of
/// changes costs one reload; never less than the last reload took.
const SETTLE: Duration = Duration::from_millis(150);
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// The most one attempt to reconnect may take, ssh's login to a host that
/// answers but hangs included.
const ATTEMPT_MAX: Duration = Duration::from_secs(30);

enum Watch {
    Event(Event),
    Ended(String),
}

/// Why a connection ended.
enum End {
    Lost(String),
    /// The window closed its side: stop.
    WindowGone,
}

/// Runs until the window drops its command sender. `first` is the
/// connection the CLI already opened, `builder` how it was made.
pub async fn run(
    first: Daemon,
    builder: ClientBuilder,
    mut commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<Update>,
) {
    let mut daemon = Some(first);
    loop {
        let current = match daemon.take() {
            Some(d) => d,
            None => match reconnect(&builder, &mut commands, &updates).await {
                Some(d) => d,
                None => return,
            },
        };
        match serve(current, &builder, &mut commands, &updates).await {
            End::Lost(reason) => {
                if updates.send(Update::Gone { reason }).await.is_err() {
                    return;
                }
            }
            End::WindowGone => return,
        }
    }
}

/// Tries again and again, answering commands meanwhile (each attempt too:
/// over ssh one may take seconds); `None` when the window has gone.
async fn reconnect(
    builder: &ClientBuilder,
    commands: &mut mpsc::Receiver<Command>,
    updates: &mpsc::Sender<Update>,
) -> Option<Daemon> {
    let mut pause = RETRY_FIRST;
    loop {
        let retry_at = Instant::now() + pause;
        let attempt = tokio::time::timeout(ATTEMPT_MAX, Daemon::connect(builder));
        tokio::pin!(attempt);
        let reason = loop {
            tokio::select! {
                done = &mut attempt => match done {
                    Ok(Ok(d)) => return Some(d),
                    Ok(Err(e)) => break describe(&e),
                    Err(_) => break format!("no answer within {}s", ATTEMPT_MAX.as_secs()),
                },
                cmd = commands.recv() => refuse_while_away(cmd?, updates).await?,
            }
        };
        updates.send(Update::Gone { reason }).await.ok()?;
        pause = (pause * 2).min(RETRY_MAX);
        loop {
            tokio::select! {
                cmd = commands.recv() => refuse_while_away(cmd?, updates).await?,
                _ = sleep_until(retry_at) => break,
            }
        }
    }
}

/// A write asked while disconnected fails at once; reads wait for the reload.
async fn refuse_while_away(cmd: Command, updates: &mpsc::Sender<Update>) -> Option<()> {
    if let Some(what) = write_name(&cmd) {
        let message = "not connected to mobile-sessiond".to_string();
        updates.send(Update::Failed { what, message }).await.ok()?;
    }
    Some(())
}

fn write_name(cmd: &Command) -> Option<&'static str> {
    match cmd {
        Command::Reload | Command::Show(_) => None,
        Command::Rescan => Some("refresh"),
        Command::SetStatus { .. } => Some("status change"),
        Command::Delete { .. } => Some("delete"),
        Command::Push => Some("push"),
    }
}

/// Serves one connection until it is lost or the window goes away.
async fn serve(
    mut daemon: Daemon,
    builder: &ClientBuilder,
    commands: &mut mpsc::Receiver<Command>,
    updates: &mpsc::Sender<Update>,
) -> End {
    // Watch before the first load, so that no change falls in between.
    let events = match Events::open(builder).await {
        Ok(e) => e,
        Err(e) => return End::Lost(describe(&e)),
    };
    let (watch_tx, mut watch_rx) = mpsc::channel(256);
    let watcher = tokio::spawn(forward_events(events, watch_tx));
    let end = serve_requests(&mut daemon, commands, &mut watch_rx, updates).await;
    watcher.abort();
    end
}

async fn serve_requests(
    daemon: &mut Daemon,
    commands: &mut mpsc::Receiver<Command>,
    watch: &mut mpsc::Receiver<Watch>,
    updates: &mpsc::Sender<Update>,
) -> End {
    let connected = Update::Connected {
        role: daemon.role(),
        version: daemon.version(),
    };
    if updates.send(connected).await.is_err() {
        return End::WindowGone;
    }
    let mut settle = SETTLE;
    if let Err(end) = reload(daemon, updates, &mut settle).await {
        return end;
    }
    let mut reload_at: Option<Instant> = None;
    let mut pending: Option<(Event, u64)> = None;
    loop {
        tokio::select! {
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return End::WindowGone };
                let reload_after = match execute(daemon, cmd, updates).await {
                    Ok(r) => r,
                    Err(end) => return end,
                };
                if reload_after {
                    if let Err(end) = reload(daemon, updates, &mut settle).await {
                        return end;
                    }
                }
            }
            msg = watch.recv() => match msg {
                Some(Watch::Event(e)) => {
                    // Every kind, "lagged" included (events were missed), is
                    // caught up by one reload of everything.
                    let count = pending.as_ref().map_or(0, |p| p.1) + 1;
                    pending = Some((e, count));
                    reload_at.get_or_insert_with(|| Instant::now() + settle);
                }
                Some(Watch::Ended(reason)) => return End::Lost(reason),
                None => return End::Lost("the event stream stopped".into()),
            },
            _ = sleep_until(reload_at.unwrap_or_else(Instant::now)), if reload_at.is_some() => {
                reload_at = None;
                if let Some((last, count)) = pending.take() {
                    if updates.send(Update::Events { last, count }).await.is_err() {
                        return End::WindowGone;
                    }
                }
                if let Err(end) = reload(daemon, updates, &mut settle).await {
                    return end;
                }
            }
        }
    }
}

/// Sorts a failure into "report it" or "the connection is gone".
fn failed(what: &'static str, e: ClientError) -> Result<Update, End> {
    if connection_lost(&e) {
        Err(End::Lost(describe(&e)))
    } else {
        Ok(Update::Failed {
            what,
            message: describe(&e),
        })
    }
}

/// Carries out one command; answers whether the rows must be reloaded.
async fn execute(
    daemon: &mut Daemon,
    cmd: Command,
    updates: &mpsc::Sender<Update>,
) -> Result<bool, End> {
    let (update, reload_after) = match cmd {
        Command::Reload => return Ok(true),
        Command::Rescan => match daemon.rescan().await {
            Ok(apps) => (Update::Rescanned { apps }, true),
            Err(e) => (failed("refresh", e)?, false),
        },
        Command::Show(key) => match daemon.show(&key).await {
            Ok(json) => (
                Update::Detail {
                    key,
                    result: Ok(json),
                },
                false,
            ),
            Err(e) if !connection_lost(&e) => (
                Update::Detail {
                    key,
                    result: Err(describe(&e)),
                },
                false,
            ),
            Err(e) => return Err(End::Lost(describe(&e))),
        },
        Command::SetStatus { status, keys } => match daemon.set_status(status, &keys).await {
            Ok(report) => (
                Update::Changed {
                    status: Some(status),
                    report,
                },
                true,
            ),
            Err(e) => (failed("status change", e)?, true),
        },
        Command::Delete { keys } => match daemon.delete(&keys).await {
            Ok(report) => (
                Update::Changed {
                    status: None,
                    report,
                },
                true,
            ),
            Err(e) => (failed("delete", e)?, true),
        },
        Command::Push => match daemon.push().await {
            Ok(report) => (Update::Pushed(report), true),
            Err(e) => (failed("push", e)?, false),
        },
    };
    updates.send(update).await.map_err(|_| End::WindowGone)?;
    Ok(reload_after)
}

/// Fetches apps and rows, prepares the rows off the runtime thread (the
/// window's input runs on it), and hands them over.
async fn reload(
    daemon: &mut Daemon,
    updates: &mpsc::Sender<Update>,
    settle: &mut Duration,
) -> Result<(), End> {
    let started = Instant::now();
    let fetched = match daemon.apps().await {
        Ok(apps) => daemon.sessions().await.map(|raw| (apps, raw)),
        Err(e) => Err(e),
    };
    let (apps, raw) = match fetched {
        Ok(v) => v,
        Err(e) => {
            let update = failed("reload", e)?;
            return updates.send(update).await.map_err(|_| End::WindowGone);
        }
    };
    let names: HashMap<String, String> = apps
        .iter()
        .map(|a| {
            (
                a.folder.clone(),
                a.name.clone().unwrap_or_else(|| a.app_id.clone()),
            )
        })
        .collect();
    let prepare = move || {
        raw.into_iter()
            .map(|r| {
                let mut row = Row::new(r);
                if let Some(name) = names.get(&row.key.app) {
                    row.set_app_name(name);
                }
                row
            })
            .collect()
    };
    let rows = tokio::task::spawn_blocking(prepare)
        .await
        .map_err(|e| End::Lost(format!("preparing the rows failed: {e}")))?;
    *settle = SETTLE.max(started.elapsed());
    updates
        .send(Update::Loaded {
            apps,
            rows: Arc::new(rows),
        })
        .await
        .map_err(|_| End::WindowGone)
}

async fn forward_events(mut events: Events, tx: mpsc::Sender<Watch>) {
    loop {
        let msg = match events.next().await {
            Ok(Some(e)) => Watch::Event(e),
            Ok(None) => Watch::Ended("mobile-sessiond stopped".into()),
            Err(e) => Watch::Ended(describe(&e)),
        };
        let ended = matches!(msg, Watch::Ended(_));
        if tx.send(msg).await.is_err() || ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_out_of_time_is_a_failed_action_in_the_status_line() {
        let e = ClientError::Timeout {
            what: "request",
            after: Duration::from_secs(30),
        };
        let Ok(Update::Failed { what, message }) = failed("push", e) else {
            panic!("a timeout was taken for a lost connection");
        };
        assert_eq!(what, "push");
        assert!(message.contains("did not answer within 30s"), "{message}");
        let lost = ClientError::ConnectionLost {
            source: std::io::ErrorKind::UnexpectedEof.into(),
        };
        assert!(matches!(failed("push", lost), Err(End::Lost(_))));
    }
}
