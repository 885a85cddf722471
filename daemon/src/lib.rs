//! `mobile-sessiond`: the daemon that owns the 4D mobile sessions of one
//! `MobileApps` folder. `main.rs` is a thin shell over [`run`], so tests can
//! also run the daemon in-process.
//!
//! Where things live:
//! - [`store`]: every file operation (scan, read, atomic write, delete, path safety);
//! - [`session`]: what a session file is, and 4D's validity codes;
//! - [`view`]: the disk view and the live view, and push;
//! - [`state`]: both views behind their locks, and the operations on them;
//! - [`auth`]: sign-in; [`token`]: the 4D token;
//! - [`server`]: the socket, the handshake and one task per connection;
//! - [`cmd`]: one module per request;
//! - [`service`]: systemd readiness, watchdog and socket activation.

pub mod access;
pub mod auth;
pub mod cmd;
pub mod config;
pub mod error;
pub mod json_span;
pub mod redact;
pub mod resolve;
pub mod server;
pub mod service;
pub mod session;
pub mod state;
pub mod store;
pub mod token;
pub mod view;
pub mod watcher;

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::state::State;

/// Environment variable for the data dir.
pub const DATA_DIR_ENV: &str = "MOBILE_SESSIOND_DATA_DIR";
/// Environment variable for the config file.
pub const CONFIG_ENV: &str = "MOBILE_SESSIOND_CONFIG";

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
    Bind(#[from] server::BindError),
    #[error("cannot use the socket passed by the service manager: {0}")]
    Activation(std::io::Error),
    #[error(transparent)]
    Access(#[from] access::UnknownGroup),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
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

/// Runs the daemon until `shutdown` is cancelled or SIGTERM/SIGINT arrives.
pub async fn run(mut opts: Options, shutdown: CancellationToken) -> Result<(), StartError> {
    let config_path = opts.config.clone().or_else(|| {
        std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut config = match &config_path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    config.auto_push |= opts.auto_push;
    if opts.poll {
        config.watcher = config::WatcherMode::Poll;
    }
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
    let access = access::Access::new(
        config.admin_group.as_deref(),
        config.reader_group.as_deref(),
    )?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(StartError::Signals)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(StartError::Signals)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(StartError::Signals)?;

    // Bind first: a second daemon must fail fast, before scanning anything.
    let (listener, activated) = match opts.listen_fd.take() {
        Some(fd) => (server::from_fd(fd).map_err(StartError::Activation)?, true),
        None => (server::bind(&socket, access.socket_group())?, false),
    };
    let store = match store::SessionStore::open(&data_dir) {
        Ok(s) => s,
        Err(e) => {
            remove_socket(&socket, activated);
            return Err(e.into());
        }
    };
    // Report the data dir as resolved (a relative --data-dir is ambiguous).
    let data_dir = store
        .root()
        .parent()
        .map_or(data_dir, std::path::Path::to_path_buf);
    // Watch before the first scan, so no change falls between the two.
    let pending_watcher =
        watcher::prepare(store.root(), watcher::WatchSettings::from_config(&config));
    let state = {
        let (store, dd, sock, cfg) = (store, data_dir.clone(), socket.clone(), config);
        let opened = tokio::task::spawn_blocking(move || State::open(store, dd, sock, cfg)).await;
        match opened {
            Ok(Ok(s)) => Arc::new(s),
            Ok(Err(e)) => {
                remove_socket(&socket, activated);
                return Err(e.into());
            }
            Err(e) => {
                remove_socket(&socket, activated);
                return Err(StartError::Activation(std::io::Error::other(e.to_string())));
            }
        }
    };
    tracing::info!(
        data_dir = %data_dir.display(),
        socket = %socket.display(),
        activated,
        "mobile-sessiond {} ready: {}",
        mobile_session_proto::VERSION,
        state.summary()
    );
    let watcher = pending_watcher.start(state.clone(), shutdown.clone());
    service::ready(&state.summary());

    let server = tokio::spawn(server::serve(
        listener,
        state.clone(),
        access,
        shutdown.clone(),
    ));
    let watchdog = service::watchdog_interval();
    let mut tick = tokio::time::interval(watchdog.unwrap_or(std::time::Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sigterm.recv() => { tracing::info!("SIGTERM: stopping"); break }
            _ = sigint.recv() => { tracing::info!("SIGINT: stopping"); break }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: pushing");
                service::reloading();
                let s = state.clone();
                match tokio::task::spawn_blocking(move || s.push_request(false)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!("push on SIGHUP failed: {e}"),
                    Err(e) => tracing::error!("push on SIGHUP failed: {e}"),
                }
                service::ready(&state.summary());
            }
            _ = tick.tick(), if watchdog.is_some() => {
                service::watchdog();
                service::status(&state.summary());
            }
        }
    }
    service::stopping();
    shutdown.cancel();
    let _ = server.await;
    watcher.stopped().await;
    remove_socket(&socket, activated);
    tracing::info!("stopped");
    Ok(())
}

fn remove_socket(path: &std::path::Path, activated: bool) {
    // An activated socket belongs to the service manager.
    if !activated {
        if let Err(e) = std::fs::remove_file(path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
        }
    }
}
