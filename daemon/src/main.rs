//! `mobile-sessiond`: runs in the foreground, logs to stderr, stops on
//! SIGTERM/SIGINT, pushes on SIGHUP.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mobile_sessiond::{run, service, Options};
use tokio_util::sync::CancellationToken;

/// Keeps the 4D mobile app sessions of a MobileApps folder in memory and
/// answers mobile-session clients over a local socket.
#[derive(Debug, Parser)]
#[command(name = "mobile-sessiond", version, about)]
struct Args {
    /// Data dir: sessions live in DIR/MobileApps (created if missing)
    /// [default: $MOBILE_SESSIOND_DATA_DIR, config data_dir, $XDG_DATA_HOME/mobile-sessiond]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Socket path [default: $MOBILE_SESSION_SOCKET, $XDG_RUNTIME_DIR/mobile-sessiond/mobile-sessiond.sock,
    /// /run/mobile-sessiond/… as root, /tmp/mobile-sessiond-UID/… otherwise]
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// TOML config file [default: $MOBILE_SESSIOND_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Apply each settled file change to the live view without waiting for a push
    #[arg(long)]
    auto_push: bool,
    /// Poll the folder instead of using inotify (network file systems)
    #[arg(long)]
    poll: bool,
    /// Log level or filter (error, warn, info, debug, trace) [default: $RUST_LOG or info]
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    mobile_sessiond::core::tune_allocator();
    let args = Args::parse();
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --log-level {filter:?} is not a level or filter: {e}");
            return ExitCode::from(2);
        }
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();

    // Before any thread exists: this reads and clears LISTEN_FDS.
    let listen_fd = match service::take_listen_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("error: socket activation: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One thread serves every connection, as Redis does: a request is a hash
    // lookup or a hand-off to the blocking pool (everything that touches
    // files runs there). Measured on 2 cores beside a busy client, a second
    // I/O thread cost more in wake-ups (0.1 context switch per request) than
    // it gained: bench/run, verify throughput.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = Options {
        data_dir: args.data_dir,
        socket: args.socket,
        config: args.config,
        auto_push: args.auto_push,
        poll: args.poll,
        listen_fd,
    };
    match runtime.block_on(run(opts, CancellationToken::new())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
