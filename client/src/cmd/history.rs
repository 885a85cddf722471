//! `history [SESSION|APP] [--since DUR]`.

use std::time::Duration;

use clap::Args;
use mobile_session::Client;

use crate::cli::{duration_arg, target_arg};
use crate::exit::emit;
use crate::render::{self, View};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only the changes of this session (id, prefix of 4+ hex characters,
    /// APP/ID) or app (folder name or app id), deleted since or not
    #[arg(value_name = "SESSION|APP", value_parser = target_arg)]
    pub target: Option<String>,
    /// Only the changes of the last DUR: 1h, 7d
    #[arg(long, value_name = "DUR", value_parser = duration_arg)]
    pub since: Option<Duration>,
}

pub async fn history(client: &Client, a: HistoryArgs, view: &View) -> anyhow::Result<u8> {
    let records = client.history(a.target, a.since).await?;
    if records.is_empty() && !view.json && !view.quiet {
        eprintln!("no change recorded");
    }
    emit(&render::history(&records, view))?;
    Ok(0)
}
