//! `set-status`, `accept`, `delete` and `push`: the commands that change
//! files or the live view.

use std::io::IsTerminal;

use anyhow::Context;
use mobile_session::{ChangeReport, Client, SessionFilter, Status, Unpushed};

use crate::exit::{emit, EXIT_ERROR};
use crate::render::{self, View};

/// Prints what a change did, and that it is not live until a push.
pub fn changed(report: &ChangeReport, view: &View, hints: bool) -> anyhow::Result<()> {
    emit(&render::changed(report, view))?;
    if report.push.is_none() && hints {
        eprintln!("not live yet: run `mobile-session push` to apply");
    }
    Ok(())
}

pub async fn accept(
    client: &Client,
    sessions: Vec<String>,
    all_pending: Option<String>,
    push: bool,
    view: &View,
    hints: bool,
) -> anyhow::Result<u8> {
    let targets = match all_pending {
        Some(app) => pending_sessions(client, app).await?,
        None => sessions,
    };
    if targets.is_empty() {
        if hints {
            eprintln!("no pending session");
        }
        // Nothing to accept; the push asked for still runs (earlier
        // accepts may wait for it).
        let push = if push {
            Some(client.push(false).await?)
        } else {
            None
        };
        let report = ChangeReport {
            sessions: Vec::new(),
            push,
        };
        emit(&render::changed(&report, view))?;
        return Ok(0);
    }
    let report = client.set_status(Status::Accepted, &targets, push).await?;
    changed(&report, view, hints)?;
    Ok(0)
}

/// `accept --all-pending [APP]`: every pending session file, as APP/ID.
async fn pending_sessions(client: &Client, app: String) -> anyhow::Result<Vec<String>> {
    let filter = SessionFilter {
        app: Some(app).filter(|a| !a.is_empty()),
        status: Some(Status::Pending),
        ..SessionFilter::default()
    };
    Ok(client
        .sessions(filter)
        .await?
        .into_iter()
        .filter(|r| {
            r.status == Some(Status::Pending)
                && r.invalid.is_none()
                && r.unpushed != Some(Unpushed::Deleted)
        })
        .map(|r| format!("{}/{}", r.app, r.id))
        .collect())
}

pub async fn delete(
    client: &Client,
    sessions: &[String],
    push: bool,
    yes: bool,
    dry_run: bool,
    view: &View,
    hints: bool,
) -> anyhow::Result<u8> {
    let ask = sessions.len() > 1 && asks(yes, dry_run);
    if dry_run || ask {
        // The daemon says what a deletion would do, as `delete` would.
        let preview = client.delete_dry_run(sessions).await?;
        if dry_run {
            emit(&render::dry_run(&preview, view))?;
            return Ok(0);
        }
        if !confirm_delete(&preview)? {
            eprintln!("nothing deleted");
            return Ok(EXIT_ERROR);
        }
    }
    let report = client.delete(sessions, push).await?;
    changed(&report, view, hints)?;
    Ok(0)
}

/// Asks on the terminal; anything but y/yes declines.
fn confirm_delete(preview: &ChangeReport) -> anyhow::Result<bool> {
    for s in &preview.sessions {
        let gone = if s.changed { "" } else { " (already deleted)" };
        eprintln!("  {}/{}{gone}", s.app, s.id);
    }
    confirm(&format!(
        "delete these {} sessions?",
        preview.sessions.len()
    ))
}

/// Whether to ask before a change: on a terminal, unless told not to.
pub(super) fn asks(yes: bool, dry_run: bool) -> bool {
    !yes && !dry_run && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on the terminal; anything but y/yes declines.
pub(super) fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub async fn push(
    client: &Client,
    (full, strict, dry_run): (bool, bool, bool),
    view: &View,
) -> anyhow::Result<u8> {
    let report = match dry_run {
        true => client.push_dry_run(full).await?,
        false => client.push(full).await?,
    };
    emit(&render::push(&report, view, dry_run))?;
    if strict && !report.invalid.is_empty() {
        eprintln!(
            "error: {} session file(s) are invalid (--strict)",
            report.invalid.len()
        );
        return Ok(EXIT_ERROR);
    }
    Ok(0)
}
