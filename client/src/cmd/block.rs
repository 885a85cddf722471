//! `block`, `unblock` and `blocked`: the devices kept out.

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use mobile_session::proto::BlockTarget;
use mobile_session::Client;

use crate::cli::{app_arg, session_arg};
use crate::completion::app_folders;
use crate::exit::emit;
use crate::render::{self, View};

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// Sessions whose devices to block: ids, unique prefixes of 4+ hex characters, or APP/ID
    #[arg(
        value_parser = session_arg,
        required_unless_present = "app",
        conflicts_with = "app"
    )]
    pub sessions: Vec<String>,
    /// The app of --device: a folder name, or an app id
    #[arg(
        long,
        value_name = "APP",
        requires = "device",
        value_parser = app_arg,
        add = ArgValueCandidates::new(app_folders)
    )]
    pub app: Option<String>,
    /// The device.id to block (as `sessions --json` shows it in device.id)
    #[arg(long, value_name = "ID", requires = "app")]
    pub device: Option<String>,
    /// What the device is told when it signs in (its statusText)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnblockArgs {
    /// The app: a folder name, or an app id
    #[arg(long, value_name = "APP", value_parser = app_arg, add = ArgValueCandidates::new(app_folders))]
    pub app: String,
    /// The device.id to let in again
    #[arg(long, value_name = "ID")]
    pub device: String,
}

pub async fn block(client: &Client, a: BlockArgs, view: &View) -> anyhow::Result<u8> {
    let target = match (a.app, a.device) {
        (Some(app), Some(device)) => BlockTarget::Device { app, device },
        _ => BlockTarget::Sessions(a.sessions),
    };
    let report = client.block(target, a.reason).await?;
    emit(&render::blocks(&report, view))?;
    Ok(0)
}

pub async fn unblock(client: &Client, a: UnblockArgs, view: &View) -> anyhow::Result<u8> {
    let lifted = client.unblock(&a.app, &a.device).await?;
    emit(&render::unblocked(&a.app, &a.device, lifted.as_ref(), view))?;
    Ok(0)
}

pub async fn blocked(client: &Client, view: &View) -> anyhow::Result<u8> {
    let list = client.blocked().await?;
    if list.is_empty() && !view.json && !view.quiet {
        eprintln!("no device is blocked");
    }
    emit(&render::blocked(&list, view))?;
    Ok(0)
}
