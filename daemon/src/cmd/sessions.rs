//! `sessions [APP] [filters]`: the rows of the disk view, each marked when
//! its live copy differs (new, changed, deleted, invalid), and every invalid
//! file with its code (`--invalid`: only those).
//!
//! The rows stream page by page ([`SESSIONS_PAGE_ROWS`] a frame): each page
//! is read from the views where the previous one stopped (in (folder, id)
//! order), built on the blocking pool and sent before the next is read. So
//! a listing of 100 000 sessions never sits whole in memory, and a client
//! that stops reading holds at most a page and its socket buffer. A session
//! that exists throughout the listing is listed exactly once; one created or
//! deleted meanwhile may or may not be.

use std::sync::Arc;

use mobile_session_proto::{
    Connection, Invalidity, Response, Role, SessionFilter, SessionRow, SESSIONS_PAGE_ROWS,
};
use tokio::io::{AsyncRead, AsyncWrite};

use super::resolve::resolve_app;
use super::{activity, error, redact, CmdError, Context, Flow};
use crate::model::names::SessionKey;
use crate::model::session::SessionRecord;
use crate::model::view::{rows_page, RowCursor, RowSource};

/// The rows one listing wants.
struct Query {
    app: Option<String>,
    filter: SessionFilter,
    redact: bool,
    /// Live sessions whose file was deleted, taken once at the start.
    deleted: Vec<(SessionKey, Arc<SessionRecord>)>,
}

impl Query {
    fn keep(&self, row: &RowSource) -> bool {
        if self.app.as_deref().is_some_and(|a| a != row.folder) {
            return false;
        }
        if self.filter.invalid {
            return row.invalid.is_some();
        }
        // An invalid file that is not live has no session data: it is
        // listed (with its code) unless the filter asks for session data.
        let Some(rec) = &row.record else {
            return self.filter.status.is_none()
                && self.filter.email.is_none()
                && self.filter.device_token.is_none();
        };
        if self.filter.status.is_some_and(|s| s != rec.status) {
            return false;
        }
        if let Some(want) = &self.filter.email {
            let email = rec.email.as_deref().unwrap_or("");
            if !email.eq_ignore_ascii_case(want.trim()) {
                return false;
            }
        }
        if let Some(want) = &self.filter.device_token {
            let device: serde_json::Value = serde_json::from_str(&rec.device).unwrap_or_default();
            if device.get("token").and_then(|t| t.as_str()) != Some(want.trim()) {
                return false;
            }
        }
        true
    }

    fn render(
        &self,
        ctx: &Context,
        row: &RowSource,
        last_seen_ms: Option<u64>,
        group: Option<u64>,
    ) -> SessionRow {
        let rec = row.record.as_deref();
        let device = match rec {
            Some(r) if self.redact => {
                let mut d: serde_json::Value = serde_json::from_str(&r.device).unwrap_or_default();
                redact::device(&mut d);
                d.to_string()
            }
            Some(r) => r.device.to_string(),
            None => "null".to_string(),
        };
        SessionRow {
            app: row.folder.clone(),
            id: rec.map_or_else(|| row.name.clone(), |r| r.id.to_string()),
            status: rec.map(|r| r.status),
            email: rec.and_then(|r| r.email.as_deref().map(str::to_string)),
            device,
            path: ctx
                .core
                .store()
                .session_path(&row.folder, &row.name)
                .display()
                .to_string(),
            unpushed: row.unpushed,
            invalid: row.invalid.as_ref().map(|i| Invalidity {
                code: i.code(),
                error: i.error.clone(),
            }),
            writing: false,
            last_seen_ms,
            group,
        }
    }
}

/// One page: the rows after `cursor`, and where the next page starts.
fn page(
    ctx: &Context,
    query: &Query,
    cursor: Option<&RowCursor>,
) -> (Vec<SessionRow>, Option<RowCursor>) {
    let (rows, next, cells) = ctx.core.read_views(|disk, live| {
        let (rows, next) = rows_page(
            disk,
            live,
            &query.deleted,
            query.app.as_deref(),
            cursor,
            SESSIONS_PAGE_ROWS,
            |r| query.keep(r),
        );
        // The live records' last sightings, not yet in the table.
        let cells: Vec<u64> = rows
            .iter()
            .map(|r| live.get(&r.folder, &r.name).map_or(0, |l| l.seen.secs()))
            .collect();
        (rows, next, cells)
    });
    // Rendered outside the view locks.
    let seen = ctx.state.seen.reader();
    let last_seen: Vec<Option<u64>> = rows
        .iter()
        .zip(cells)
        .map(|(r, c)| seen.ms(&r.folder, &r.name, c))
        .collect();
    drop(seen);
    let mut rows: Vec<SessionRow> = rows
        .iter()
        .zip(last_seen)
        .map(|(r, at)| query.render(ctx, r, at, None))
        .collect();
    mark_writing(ctx, &mut rows);
    (rows, next)
}

/// Marks the rows whose file a writer has open, not valid yet (their last
/// good content is shown).
fn mark_writing(ctx: &Context, rows: &mut [SessionRow]) {
    let writing = ctx.core.writing_paths();
    if !writing.is_empty() {
        for row in rows {
            row.writing = writing.contains(std::path::Path::new(&row.path));
        }
    }
}

/// A listing by activity, gathered whole (see [`activity::listing`]).
fn by_activity(ctx: &Context, query: &Query) -> Vec<SessionRow> {
    let mut rows = activity::listing(
        ctx,
        &activity::Listing {
            filter: &query.filter,
            within: query.app.as_deref(),
            deleted: &query.deleted,
            keep: &|r| query.keep(r),
            render: &|r, at, group| query.render(ctx, r, at, group),
        },
    );
    mark_writing(ctx, &mut rows);
    rows
}

fn start(ctx: &Context, filter: SessionFilter) -> Result<Query, CmdError> {
    let (app, deleted) = ctx.core.read_views(|disk, live| {
        let app = filter
            .app
            .as_deref()
            .map(|a| resolve_app(disk, live, a))
            .transpose()?;
        Ok::<_, CmdError>((app, disk.deleted_but_live(live)))
    })?;
    Ok(Query {
        app,
        filter,
        redact: ctx.role != Role::Admin,
        deleted,
    })
}

/// Streams the listing; returns whether the connection may go on.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Context,
    conn: &mut Connection<S>,
    filter: SessionFilter,
) -> Flow {
    let c = ctx.clone();
    let query = match tokio::task::spawn_blocking(move || start(&c, filter)).await {
        Ok(Ok(q)) => Arc::new(q),
        Ok(Err(e)) => return send(conn, error(e)).await,
        Err(e) => return send(conn, error(CmdError::internal(e.to_string()))).await,
    };
    if activity::wanted(&query.filter) {
        let (c, q) = (ctx.clone(), query.clone());
        let rows = match tokio::task::spawn_blocking(move || by_activity(&c, &q)).await {
            Ok(rows) => rows,
            Err(e) => return send(conn, error(CmdError::internal(e.to_string()))).await,
        };
        let mut pages = rows.chunks(SESSIONS_PAGE_ROWS).peekable();
        loop {
            let rows = pages.next().map_or_else(Vec::new, <[SessionRow]>::to_vec);
            let done = pages.peek().is_none();
            let flow = send(conn, Response::SessionsPage { rows, done }).await;
            if done || flow == Flow::Close {
                return flow;
            }
        }
    }
    let mut cursor: Option<RowCursor> = None;
    loop {
        let (c, q, at) = (ctx.clone(), query.clone(), cursor.take());
        let built = tokio::task::spawn_blocking(move || page(&c, &q, at.as_ref())).await;
        let (rows, next) = match built {
            Ok(p) => p,
            Err(e) => return send(conn, error(CmdError::internal(e.to_string()))).await,
        };
        let done = next.is_none();
        if send(conn, Response::SessionsPage { rows, done }).await == Flow::Close {
            return Flow::Close;
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Flow::Continue,
        }
    }
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Connection<S>, r: Response) -> Flow {
    match conn.send(&r).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}
