//! `purge` and `dedupe`: deletions the daemon plans by activity. On a
//! terminal they first show the plan (a dry run) and ask, as `delete`
//! does; `purge` then sends the cutoff the plan used, so that what is
//! deleted is what was shown (less what became active meanwhile).

use std::time::Duration;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use mobile_session::proto::{PurgeRequest, RemovalReport};
use mobile_session::Client;

use super::change::{asks, confirm};
use crate::cli::{app_arg, duration_arg};
use crate::completion::app_folders;
use crate::exit::{emit, EXIT_ERROR};
use crate::render::{self, View};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete the sessions not active for this long: 90d, 12h, 2weeks
    #[arg(long, value_name = "DUR", value_parser = duration_arg)]
    pub inactive: Duration,
    #[command(flatten)]
    pub how: RemovalArgs,
}

#[derive(Debug, Args)]
pub struct DedupeArgs {
    #[command(flatten)]
    pub how: RemovalArgs,
}

/// What `purge` and `dedupe` share.
#[derive(Debug, Args)]
pub struct RemovalArgs {
    /// Only this app: a folder name, or an app id when unambiguous
    #[arg(value_parser = app_arg, add = ArgValueCandidates::new(app_folders))]
    pub app: Option<String>,
    /// List the sessions it would delete (with dedupe, the one kept for each), and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (asked only on a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// Push afterwards, so that the sessions leave the live view at once
    #[arg(long)]
    pub push: bool,
}

pub async fn purge(client: &Client, args: PurgeArgs, view: &View) -> anyhow::Result<u8> {
    let a = args.how;
    let mut req = PurgeRequest {
        app: a.app,
        inactive_secs: args.inactive.as_secs(),
        cutoff_ms: None,
        dry_run: true,
        push: false,
    };
    let ask = asks(a.yes, a.dry_run);
    if a.dry_run || ask {
        let plan = client.purge(req.clone()).await?;
        if a.dry_run || !agreed(&plan, view)? {
            return finish(&plan, view, a.dry_run);
        }
        req.cutoff_ms = plan.cutoff_ms;
    }
    req.dry_run = false;
    req.push = a.push;
    let report = client.purge(req).await?;
    finish(&report, view, true)
}

pub async fn dedupe(client: &Client, args: DedupeArgs, view: &View) -> anyhow::Result<u8> {
    let a = args.how;
    if a.dry_run || asks(a.yes, a.dry_run) {
        let plan = client.dedupe(a.app.clone(), true, false).await?;
        if a.dry_run || !agreed(&plan, view)? {
            return finish(&plan, view, a.dry_run);
        }
    }
    let report = client.dedupe(a.app, false, a.push).await?;
    finish(&report, view, true)
}

/// Shows the plan and asks; an empty plan needs no answer (and is done).
fn agreed(plan: &RemovalReport, view: &View) -> anyhow::Result<bool> {
    if plan.sessions.is_empty() {
        return Ok(true);
    }
    let shown = View {
        json: false,
        ..*view
    };
    eprint!("{}", render::removal(plan, &shown));
    confirm(&format!("delete these {} sessions?", plan.sessions.len()))
}

/// Prints the report; `done` false: the user declined (exit 1).
fn finish(report: &RemovalReport, view: &View, done: bool) -> anyhow::Result<u8> {
    if !done {
        eprintln!("nothing deleted");
        return Ok(EXIT_ERROR);
    }
    if report.sessions.is_empty() && !view.json && !view.quiet {
        eprintln!("no session to delete");
    }
    emit(&render::removal(report, view))?;
    let unpushed = report.push.is_none() && report.sessions.iter().any(|s| s.changed);
    if !report.dry_run && unpushed && !view.json && !view.quiet {
        eprintln!("not live yet: run `mobile-session push` to apply");
    }
    Ok(0)
}
