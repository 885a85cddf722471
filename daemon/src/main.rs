//! `mobile-sessiond`: runs in the foreground, logs to stderr, stops on
//! SIGTERM/SIGINT, reloads its config and pushes on SIGHUP. Exit status: 0
//! after a clean stop, 1 an error, 2 bad usage, 78 a bad config file (or a
//! group it names that does not exist).

use std::process::ExitCode;

use clap::Parser;
use mobile_sessiond::{run, service, Options, StartError, Stopped};
use mobile_sessiond_cli::Args;
use tokio_util::sync::CancellationToken;

/// Exit status for a configuration error (sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    mobile_sessiond::core::tune_allocator();
    // Usage errors, `--log-level bogus` among them, exit 2 here.
    let args = Args::parse();
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {filter:?} ($RUST_LOG) is not a level or filter: {e}");
            return ExitCode::from(2);
        }
    };
    mobile_sessiond::log::init(filter);

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
        config: args.config_file(),
        data_dir: args.data_dir,
        socket: args.socket,
        auto_push: args.auto_push,
        poll: args.poll,
        listen_fd,
        state_dir: args.state_dir,
    };
    let ran = runtime.block_on(run(opts, CancellationToken::new()));
    match ran {
        // Only the start-up scan may still be reading: no need to wait.
        Ok(Stopped::DuringStartUpScan) => runtime.shutdown_background(),
        // Work still on the blocking pool (a rescan) may not hold the exit
        // up for long; sign-in hooks are killed by then.
        _ => runtime.shutdown_timeout(std::time::Duration::from_secs(5)),
    }
    match ran {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                StartError::Config(_) | StartError::Access(_) => ExitCode::from(EXIT_CONFIG),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
