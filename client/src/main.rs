//! `mobile-session`: renders what the daemon answers. No business logic
//! here: `cmd` asks, `render` writes, `exit` says how it ended (exit codes
//! there).

mod cli;
mod cmd;
mod completion;
mod exit;
mod input;
mod man;
mod remote;
mod render;
mod reveal;
mod ui;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command};
use exit::{emit, emit_bytes};

fn main() -> ExitCode {
    // A shell asking what to complete gets its answer, and nothing else runs.
    completion::answer_if_asked();
    let cli = Cli::parse();
    let result = match &cli.command {
        // Local commands need no daemon (nor a runtime).
        Command::Completions { shell } => completion::script(*shell)
            .context("cannot write the completion script")
            .and_then(|text| emit_bytes(&text))
            .map(|()| 0),
        Command::Man(args) => man_command(args.out_dir.as_deref()),
        // What ssh runs on the other host for --host: it copies bytes.
        Command::DialStdio => remote::dial_stdio(cli.socket.as_deref(), cli.host.is_some()),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")
            .and_then(|rt| rt.block_on(cmd::run(cli))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(exit::report(&e)),
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
