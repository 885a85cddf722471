//! `apps`: one row per app folder — folder, app id, name, team, the number
//! of valid sessions and of pending ones. From the disk view's cached app
//! labels: no file is read.
use mobile_session_proto::{AppRow, Response};

use super::{CmdError, Context};

pub fn rows(ctx: &Context) -> Vec<AppRow> {
    ctx.core.read_views(|disk, _| {
        disk.apps()
            .iter()
            .map(|(folder, app)| {
                let label = app.label(folder);
                let (sessions, pending) = app.counts();
                AppRow {
                    folder: folder.clone(),
                    app_id: label.app_id,
                    name: label.name,
                    team_id: label.team_id,
                    sessions,
                    pending,
                    unreadable: app.meta.unreadable,
                }
            })
            .collect()
    })
}

pub fn handle(ctx: &Context) -> Result<Response, CmdError> {
    Ok(Response::Apps(rows(ctx)))
}
