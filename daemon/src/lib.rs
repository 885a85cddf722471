//! `mobile-sessiond`: the daemon that owns the 4D mobile sessions of one
//! `MobileApps` folder. `main.rs` is a thin shell over [`run`], so tests can
//! also run the daemon in-process. `ARCHITECTURE.md` at the repository root
//! tells the whole story; in short, the layers, each using only those below:
//!
//! - [`model`]: names and keys, the 4D token, a session file and its
//!   validity, the disk and live views, events — no I/O, no locks;
//! - [`store`]: every file operation (scan, read, checked atomic write,
//!   delete, path safety);
//! - [`core`]: the object that owns the views and their locks; every change
//!   goes through its [`core::Txn`];
//! - [`cmd`]: the rules of each request, and the only place that builds a
//!   response and decides what a reader may see;
//! - [`hook`]: sign-in hooks as supervised, bounded child processes, and
//!   `on_push`;
//! - [`state`]: the daemon's own state (last seen, the deny-list, the
//!   history) in `state_dir`;
//! - [`watcher`]: inotify, polling or notify's native watcher, feeding the
//!   core, and the push barrier;
//! - [`server`]: the socket, the handshake and one task per connection;
//! - [`service`]: systemd readiness, watchdog and socket activation;
//! - [`log`]: plain lines, or the journal's priorities under systemd;
//! - this file: the wiring.

#[cfg(test)]
mod alloc_count;
pub mod cmd;
pub mod config;
pub mod core;
pub mod hook;
pub mod locks;
pub mod log;
pub mod model;
pub mod notify;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod watcher;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

use crate::cmd::DaemonInfo;
use crate::config::Config;
use crate::core::Core;

pub use mobile_sessiond_cli::{CONFIG_ENV, DATA_DIR_ENV};

/// Everything the daemon needs to start, already resolved from flags and environment.
#[derive(Debug, Default)]
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub auto_push: bool,
    pub poll: bool,
    /// A listening socket handed over by the service manager.
    pub listen_fd: Option<OwnedFd>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("no data dir: pass --data-dir DIR, set ${DATA_DIR_ENV} or data_dir in the config (HOME is not set either)")]
    NoDataDir,
    #[error("cannot open the data dir: {0}")]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Bind(#[from] server::listener::BindError),
    #[error("cannot use the socket passed by the service manager: {0}")]
    Activation(std::io::Error),
    #[error(transparent)]
    Access(#[from] server::access::UnknownGroup),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("the start-up scan crashed (a bug; please report it): {0}")]
    ScanPanicked(String),
    #[error(transparent)]
    State(#[from] state::StateError),
}

/// `--data-dir`, else `$MOBILE_SESSIOND_DATA_DIR`, else the config's
/// `data_dir`, else `$XDG_DATA_HOME/mobile-sessiond`, else `~/.local/share/mobile-sessiond`.
pub fn data_dir(flag: Option<PathBuf>, config: &Config) -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    flag.or_else(|| env(DATA_DIR_ENV))
        .or_else(|| config.data_dir.clone())
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("mobile-sessiond")))
        .or_else(|| env("HOME").map(|h| h.join(".local/share/mobile-sessiond")))
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// The outcome of start-up work run on the blocking pool: its own error, or
/// a panic reported as the crash it is.
fn started<T>(
    joined: Result<Result<T, store::StoreError>, tokio::task::JoinError>,
) -> Result<T, StartError> {
    match joined {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => Err(StartError::ScanPanicked(panic_message(&*e.into_panic()))),
        Err(e) => Err(StartError::ScanPanicked(e.to_string())),
    }
}

/// What the command line says over the config file.
#[derive(Debug, Clone, Copy)]
struct Overrides {
    auto_push: bool,
    poll: bool,
}

/// The configuration from `path` (built-in defaults without one), with the
/// command line's overrides applied.
fn load_config(path: Option<&Path>, over: Overrides) -> Result<Config, config::ConfigError> {
    let mut config = match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    config.auto_push |= over.auto_push;
    if over.poll {
        config.watcher = config::WatcherMode::Poll;
    }
    Ok(config)
}

/// SIGHUP: reads the configuration again and puts in force what can change
/// while running (sign-in policy, auto-push, the access groups). A broken
/// file is reported and the configuration in use kept.
fn reload(
    path: Option<&Path>,
    over: Overrides,
    core: &Core,
    shared: &server::Shared,
    created_dir: Option<&Path>,
) {
    let Some(path) = path else {
        tracing::info!("SIGHUP: no config file to read again");
        return;
    };
    let config = match load_config(Some(path), over) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SIGHUP: {e}; keeping the configuration in use");
            return;
        }
    };
    let access = match server::access::Access::new(
        config.admin_group.as_deref(),
        config.reader_group.as_deref(),
    ) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("SIGHUP: {e}; keeping the configuration in use");
            return;
        }
    };
    let old = core.config();
    let restart_only = [
        ("data_dir", old.data_dir != config.data_dir),
        ("socket", old.socket != config.socket),
        ("watcher", old.watcher != config.watcher),
        ("settle_ms", old.settle_ms != config.settle_ms),
        (
            "poll_interval_ms",
            old.poll_interval_ms != config.poll_interval_ms,
        ),
        ("watch_queue", old.watch_queue != config.watch_queue),
        (
            "max_connections",
            old.max_connections != config.max_connections,
        ),
        (
            "idle_timeout_ms",
            old.idle_timeout_ms != config.idle_timeout_ms,
        ),
        ("max_hooks", old.max_hooks != config.max_hooks),
        ("file_mode", old.file_mode != config.file_mode),
        ("state_dir", old.state_dir != config.state_dir),
        (
            "history_max_bytes",
            old.history_max_bytes != config.history_max_bytes,
        ),
    ];
    for (key, changed) in restart_only {
        if changed {
            tracing::warn!(
                "SIGHUP: {key} changed in {}; it takes effect at the next start",
                path.display()
            );
        }
    }
    // The socket's ACL entries follow the groups (its owning group stays),
    // and so do its folder's when the daemon created that folder; a folder
    // it found (even one of its own user, such as /run or /tmp as root) is
    // left as it is.
    server::listener::open_to_groups(&shared.info.socket, created_dir, &access);
    *locks::write(&shared.access) = Arc::new(access);
    shared.state.seen.set_enabled(config.last_seen());
    core.set_config(config);
    tracing::info!(
        "SIGHUP: configuration read again from {}; changed access groups apply to new connections",
        path.display()
    );
}

/// Runs each reload asked for through the returned sender, one at a time
/// and in order, on the blocking pool. A request made while a reload runs
/// waits for it; requests made meanwhile are served together by one more
/// reload, which reads the file as it is by then. So the file read last is
/// always read after the last request, and two reloads never race to put
/// their configuration in force. Ends when the sender is dropped.
fn reloader(
    work: impl Fn() + Send + Sync + 'static,
) -> (tokio::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let work = Arc::new(work);
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let work = work.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || work()).await {
                tracing::error!("reload failed: {e}");
            }
        }
    });
    (tx, task)
}

/// How [`run`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// After serving: the requests in flight are done, the socket removed.
    Served,
    /// During the start-up scan, which may still be reading on the blocking
    /// pool: nothing waits for it (it writes nothing), so the caller may exit
    /// without waiting for the pool.
    DuringStartUpScan,
}

/// Runs the daemon until `shutdown` is cancelled or SIGTERM/SIGINT arrives.
/// `opts.config` is the config file to read, already resolved by the caller
/// (`--config`, `$MOBILE_SESSIOND_CONFIG`, `/etc/mobile-sessiond/config.toml`).
pub async fn run(mut opts: Options, shutdown: CancellationToken) -> Result<Stopped, StartError> {
    let config_path = opts.config.clone();
    let over = Overrides {
        auto_push: opts.auto_push,
        poll: opts.poll,
    };
    let config = load_config(config_path.as_deref(), over)?;
    let data_dir = data_dir(opts.data_dir.take(), &config).ok_or(StartError::NoDataDir)?;
    let socket = match &opts.socket {
        Some(s) => s.clone(),
        None if std::env::var_os(mobile_session_proto::paths::SOCKET_ENV).is_some() => {
            mobile_session_proto::paths::socket_path(None)
        }
        None => config
            .socket
            .clone()
            .unwrap_or_else(|| mobile_session_proto::paths::socket_path(None)),
    };
    let fd_limit = server::limits::raise_fd_limit();
    let limits = server::limits::Limits::new(
        config.max_connections,
        config.idle_timeout_ms,
        fd_limit,
        config.max_hooks,
    );
    tracing::debug!(
        ?fd_limit,
        max_connections = limits.max_connections,
        max_hooks = limits.max_hooks,
        "limits"
    );
    if let (Some(wanted), Some(fds)) = (config.max_hooks, fd_limit) {
        if limits.max_hooks < wanted {
            tracing::warn!(
                "max_hooks = {wanted} does not fit in the open-file limit of {fds}: at most {} sign-in hooks run at once",
                limits.max_hooks
            );
        }
    }
    let hooks = Arc::new(hook::Hooks::new(
        limits.max_hooks as usize,
        shutdown.clone(),
    ));
    let access = server::access::Access::new(
        config.admin_group.as_deref(),
        config.reader_group.as_deref(),
    )?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(StartError::Signals)?;

    // Bind first: a second daemon must fail fast, before scanning anything.
    // The guard removes a socket we bound on every way out of here; bound
    // after the listener, it is dropped before it (see `SocketGuard`).
    let (listener, socket_guard) = match opts.listen_fd.take() {
        Some(fd) => {
            let handed = server::listener::from_fd(fd, &socket).map_err(StartError::Activation)?;
            // Ours to open to the groups when the service manager made it ours.
            server::listener::open_to_groups(handed.1.path(), None, &access);
            handed
        }
        None => server::listener::bind(&socket, &access)?,
    };
    let activated = !socket_guard.owned();
    let store = store::SessionStore::open(&data_dir)?.with_file_mode(config.file_mode());
    cmd::signin::log_policy(&config, config_path.as_deref());
    // Report the data dir as resolved (a relative --data-dir is ambiguous).
    let data_dir = store
        .root()
        .parent()
        .map_or(data_dir, std::path::Path::to_path_buf);
    let state_dir = state::resolve(
        opts.state_dir.take(),
        config.state_dir.as_deref(),
        &data_dir,
    );
    let state = Arc::new(state::State::open(&state_dir, store.root(), &config)?);
    // Watch before the first scan, so no change falls between the two.
    let pending_watcher =
        watcher::prepare(store.root(), watcher::WatchSettings::from_config(&config));
    // The scan may take a while: SIGTERM and SIGINT stop the daemon
    // meanwhile (the scan only reads, so nothing is left half done); a
    // SIGHUP is served once it is running.
    let mut opening = tokio::task::spawn_blocking(move || Core::open(store, config));
    let mut hup_during_scan = false;
    let opened = loop {
        tokio::select! {
            // A stop asked for is a stop, even if the scan ends meanwhile.
            biased;
            _ = shutdown.cancelled() => {
                tracing::info!("stopping during the start-up scan");
                return Ok(Stopped::DuringStartUpScan);
            }
            signal = signals.next() => match signal {
                Some(SIGHUP) => {
                    tracing::info!("SIGHUP during the start-up scan: reloading once it is done");
                    hup_during_scan = true;
                }
                Some(sig) => {
                    tracing::info!("{} during the start-up scan: stopping", signal_name(sig));
                    service::stopping();
                    // The socket guard, dropped on the way out, removes the
                    // socket.
                    return Ok(Stopped::DuringStartUpScan);
                }
                None => break (&mut opening).await,
            },
            opened = &mut opening => break opened,
        }
    };
    let core = Arc::new(started(opened)?);
    let info = Arc::new(DaemonInfo {
        data_dir: data_dir.clone(),
        socket: socket_guard.path().to_path_buf(),
        started: Instant::now(),
        max_connections: limits.max_connections,
    });
    tracing::info!(
        data_dir = %data_dir.display(),
        state_dir = %state.dir.display(),
        socket = %info.socket.display(),
        activated,
        "mobile-sessiond {} ready: {}",
        mobile_session_proto::VERSION,
        cmd::status::summary(&core)
    );
    let watcher = pending_watcher.start(core.clone(), shutdown.clone());
    let retries = tokio::spawn(core::run_retries(core.clone(), shutdown.clone()));
    service::ready(&cmd::status::summary(&core));

    let shared = server::Shared {
        core: core.clone(),
        info,
        access: Arc::new(std::sync::RwLock::new(Arc::new(access))),
        limits,
        shutdown: shutdown.clone(),
        hooks: hooks.clone(),
        notifier: Arc::new(notify::Notifier::new(shutdown.clone())),
        state: state.clone(),
    };
    let on_push = hook::on_push::start(hooks.clone(), core.clone(), data_dir.clone());
    // Last seen is written down until the last connection is done.
    let flushed = CancellationToken::new();
    let flusher = tokio::spawn(state::keep_flushing(
        core.clone(),
        state.clone(),
        flushed.clone(),
    ));
    let created_dir = socket_guard.created_dir().map(Path::to_path_buf);
    let server = tokio::spawn(server::serve(listener, socket_guard, shared.clone()));
    let (reload, reloads) = {
        let (core, shared, path) = (core.clone(), shared.clone(), config_path.clone());
        reloader(move || {
            reload(
                path.as_deref(),
                over,
                &core,
                &shared,
                created_dir.as_deref(),
            );
            if let Err(e) = core.push(false) {
                tracing::error!("push on SIGHUP failed: {e}");
            }
            service::ready(&cmd::status::summary(&core));
        })
    };
    if hup_during_scan {
        service::reloading();
        let _ = reload.try_send(());
    }
    let watchdog = service::watchdog_interval();
    let mut tick = tokio::time::interval(watchdog.unwrap_or(std::time::Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            signal = signals.next() => match signal {
                Some(SIGHUP) => {
                    tracing::info!("SIGHUP: reloading the configuration and pushing");
                    service::reloading();
                    // Off this loop (reading the file and the group database,
                    // and the push, may take a while; the loop keeps the
                    // watchdog and the other signals) and one at a time. Full:
                    // a reload is already waiting to start, and will read the
                    // file as it is now.
                    let _ = reload.try_send(());
                }
                Some(sig) => {
                    tracing::info!("{}: stopping", signal_name(sig));
                    break;
                }
                None => break,
            },
            _ = tick.tick(), if watchdog.is_some() => {
                service::watchdog();
                service::status(&cmd::status::summary(&core));
            }
        }
    }
    service::stopping();
    shutdown.cancel();
    // No hook starts from now on; those running may finish, up to a point
    // inside the connections' grace, so that their sign-ins are answered.
    let hooks_stop = {
        let hooks = hooks.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hook::STOP_GRACE).await;
            hooks.kill_all();
        })
    };
    // A second SIGTERM or SIGINT while connections finish: stop waiting.
    let impatient = {
        let hooks = hooks.clone();
        tokio::spawn(async move {
            while let Some(sig) = signals.next().await {
                if sig != SIGHUP {
                    tracing::warn!(
                        "{} again while stopping: exiting now, without waiting for the connections in flight",
                        signal_name(sig)
                    );
                    hooks.kill_all();
                    std::process::exit(1);
                }
            }
        })
    };
    // No new reload; one in progress finishes on the blocking pool.
    drop(reload);
    reloads.abort();
    let _ = server.await;
    flushed.cancel();
    let _ = flusher.await;
    // Whatever still runs (the grace ran out) goes before the daemon does.
    hooks_stop.abort();
    hooks.kill_all();
    on_push.abort();
    let _ = retries.await;
    watcher.stopped().await;
    impatient.abort();
    tracing::info!("stopped");
    Ok(Stopped::Served)
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_start_up_work_is_reported_as_a_crash() {
        let joined = tokio::task::spawn_blocking(|| -> Result<(), store::StoreError> {
            panic!("scan worker fell over")
        })
        .await;
        let e = started(joined).unwrap_err();
        assert!(matches!(e, StartError::ScanPanicked(_)));
        assert!(e.to_string().contains("scan worker fell over"), "{e}");
        let joined =
            tokio::task::spawn_blocking(|| Err::<(), _>(store::StoreError::BadName("x".into())))
                .await;
        assert!(matches!(started(joined), Err(StartError::Store(_))));
    }

    #[tokio::test]
    async fn a_stop_asked_for_during_the_start_up_scan_does_not_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run").join("s.sock");
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let opts = Options {
            data_dir: Some(dir.path().join("Data")),
            socket: Some(socket.clone()),
            state_dir: Some(dir.path().join("state")),
            ..Default::default()
        };
        let stopped = run(opts, shutdown).await.unwrap();
        assert_eq!(stopped, Stopped::DuringStartUpScan);
        assert!(!socket.exists(), "the socket is left behind");
    }

    #[tokio::test]
    async fn reloads_run_one_at_a_time_and_the_last_one_starts_after_the_last_request() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Mutex;
        let deadline = std::time::Duration::from_secs(30);
        // The request each reload saw when it started (what it would read),
        // and how many ran at once.
        let asked = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(Mutex::new((0u32, 0u32)));
        let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        let (tx, task) = {
            let (asked, seen, running) = (asked.clone(), seen.clone(), running.clone());
            reloader(move || {
                {
                    let mut r = running.lock().unwrap();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                seen.lock().unwrap().push(asked.load(Ordering::SeqCst));
                let _ = started_tx.send(());
                // The first reload holds on until the test lets it go.
                let _ = released.lock().unwrap().recv();
                running.lock().unwrap().0 -= 1;
            })
        };
        asked.store(1, Ordering::SeqCst);
        tx.try_send(()).unwrap();
        tokio::time::timeout(deadline, started.recv())
            .await
            .expect("the first reload starts");
        // Nine more SIGHUPs while it runs (the file changing each time),
        // with the reloader given every chance to run between them: the
        // second request waits, not taken, until the first reload is done.
        for n in 2..=10 {
            asked.store(n, Ordering::SeqCst);
            let _ = tx.try_send(());
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            assert_eq!(tx.capacity(), 0, "a request was taken while a reload ran");
        }
        assert_eq!(*seen.lock().unwrap(), [1]);
        release.send(()).unwrap();
        release.send(()).unwrap();
        drop(tx);
        tokio::time::timeout(deadline, task)
            .await
            .expect("the reloads end")
            .unwrap();
        assert_eq!(running.lock().unwrap().1, 1, "two reloads ran at once");
        // The first, then one more for the nine asked meanwhile, which read
        // the file after the last of them.
        assert_eq!(*seen.lock().unwrap(), [1, 10]);
    }
}
