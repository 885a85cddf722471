//! One module per request: each checks its arguments, applies them to the
//! [`Core`] and builds the [`Response`]. This layer is the only one that
//! builds responses, and the only one that decides what a reader may see
//! ([`redact`]) and who may run what ([`required_role`]).
//!
//! Where a request runs: `verify` and `status` are answered inline on the
//! connection's thread (a hash lookup, a copy of the counts); `sessions` and
//! `watch` stream on the connection; everything that reads or writes files
//! runs on the blocking pool, so the I/O thread never waits on a disk. A
//! sign-in awaits its hook on the connection's thread (a child process, see
//! [`crate::hook`]) and sends only its file work to the pool.

pub mod activity;
pub mod apps;
pub mod audit;
pub mod block;
pub mod body;
pub mod dedupe;
pub mod delete;
pub mod edit;
pub mod error;
pub mod history;
pub mod logout;
pub mod notify;
pub mod path;
pub mod purge;
pub mod push;
pub mod redact;
pub mod refresh;
pub mod resolve;
pub mod sessions;
pub mod set_status;
pub mod show;
pub mod signin;
pub mod status;
pub mod user_info;
pub mod verify;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use mobile_session_proto::{ChangedSession, Connection, Request, Response, Role, Status};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::hook::Hooks;
pub use error::CmdError;
use resolve::Target;

/// Facts about the running daemon that `status` reports.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub data_dir: PathBuf,
    /// The socket clients reach the daemon at (the one handed over by the
    /// service manager, under socket activation).
    pub socket: PathBuf,
    pub started: Instant,
    pub max_connections: u64,
}

/// What a request runs with: the core, the daemon's facts, the caller's
/// role, the daemon's shutdown signal and its sign-in hooks.
#[derive(Clone)]
pub struct Context {
    pub core: Arc<Core>,
    pub info: Arc<DaemonInfo>,
    pub role: Role,
    pub shutdown: CancellationToken,
    pub hooks: Arc<Hooks>,
    /// Sends push notifications; its connections outlive each command.
    pub notifier: Arc<crate::notify::Notifier>,
    /// The daemon's own state: last seen, the deny-list, the history.
    pub state: Arc<crate::state::State>,
    /// Who is calling, as the history records it.
    pub caller: Arc<crate::state::audit::Caller>,
}

/// Whether the connection goes on after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// The role a request needs. Exhaustive on purpose: a new request does not
/// compile until someone decides who may run it. Readers may look (tokens
/// redacted) and verify; everything that writes a file or changes the live
/// view needs an admin. So do the history and the deny-list, though they
/// only read: they show who administers the sessions (uids, processes)
/// and devices' identifiers, which a reader — the web server that calls
/// `verify` — has no use for.
pub fn required_role(request: &Request) -> Role {
    match request {
        Request::Apps
        | Request::Sessions(_)
        | Request::Show { .. }
        | Request::Path { .. }
        | Request::Verify { .. }
        | Request::Status
        | Request::Watch { .. } => Role::Reader,
        Request::SetStatus { .. }
        | Request::Delete { .. }
        | Request::Push { .. }
        | Request::Refresh
        | Request::Authenticate { .. }
        | Request::UserInfo { .. }
        | Request::Logout { .. }
        | Request::AuthenticateFrom { .. }
        | Request::Notify(_)
        | Request::PushPreview { .. }
        | Request::Purge(_)
        | Request::Dedupe(_)
        | Request::Block(_)
        | Request::Unblock { .. }
        | Request::Blocked
        | Request::History(_) => Role::Admin,
    }
}

/// Whether `role` may run a request that needs `needed`.
pub fn permits(role: Role, needed: Role) -> bool {
    match needed {
        Role::Reader => true,
        Role::Admin => role == Role::Admin,
    }
}

/// Runs one request and queues its answer(s) on `conn`; the caller flushes
/// (so pipelined answers share one write), except for streams, which
/// flush themselves.
pub async fn execute<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Context,
    conn: &mut Connection<S>,
    request: Request,
) -> Flow {
    if !permits(ctx.role, required_role(&request)) {
        let e = CmdError::permission_denied(
            "this command needs admin rights: run it as the daemon's user, root, or a member of admin_group",
        );
        return queue(conn, error(e)).await;
    }
    let reply = match request {
        Request::Verify { token } => verify::handle(ctx, &token),
        Request::Status => status::handle(ctx),
        Request::Sessions(filter) => return sessions::run(ctx, conn, filter).await,
        Request::Watch { app } => return watch::run(ctx, conn, app).await,
        Request::Apps => blocking(ctx, apps::handle).await,
        Request::Show { session } => blocking(ctx, move |c| show::handle(c, &session)).await,
        Request::Path { session } => blocking(ctx, move |c| path::handle(c, &session)).await,
        Request::SetStatus {
            status,
            sessions,
            push,
        } => blocking(ctx, move |c| set_status::handle(c, status, &sessions, push)).await,
        Request::Delete {
            sessions,
            push,
            dry_run,
        } => blocking(ctx, move |c| delete::handle(c, &sessions, push, dry_run)).await,
        Request::Push { full } => blocking(ctx, move |c| push::handle(c, full)).await,
        Request::Refresh => blocking(ctx, refresh::handle).await,
        // Boxed: a sign-in's future is large, and would otherwise sit in
        // every connection's.
        Request::Authenticate { body } => answer(Box::pin(signin::handle(ctx, body, None)).await),
        Request::AuthenticateFrom { body, ip } => {
            answer(Box::pin(signin::handle(ctx, body, Some(ip))).await)
        }
        Request::UserInfo { token, body } => {
            blocking(ctx, move |c| user_info::handle(c, &token, &body)).await
        }
        Request::Logout { token } => blocking(ctx, move |c| logout::handle(c, &token)).await,
        Request::Notify(n) => notify::run(ctx, n).await,
        Request::PushPreview { full } => blocking(ctx, move |c| push::preview(c, full)).await,
        Request::Purge(p) => blocking(ctx, move |c| purge::handle(c, &p)).await,
        Request::Dedupe(d) => blocking(ctx, move |c| dedupe::handle(c, &d)).await,
        Request::Block(b) => blocking(ctx, move |c| block::block(c, b)).await,
        Request::Unblock { app, device } => {
            blocking(ctx, move |c| block::unblock(c, &app, &device)).await
        }
        Request::Blocked => Response::BlockList(ctx.state.blocks.list()),
        Request::History(q) => blocking(ctx, move |c| history::handle(c, q)).await,
    };
    queue(conn, reply).await
}

async fn queue<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    reply: Response,
) -> Flow {
    match conn.feed(&reply).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<F>(ctx: &Context, f: F) -> Response
where
    F: FnOnce(&Context) -> Result<Response, CmdError> + Send + 'static,
{
    answer(on_pool(ctx, f).await)
}

/// Runs `f` on the blocking pool and gives back what it returns.
async fn on_pool<T, F>(ctx: &Context, f: F) -> Result<T, CmdError>
where
    T: Send + 'static,
    F: FnOnce(&Context) -> Result<T, CmdError> + Send + 'static,
{
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .unwrap_or_else(|e| Err(CmdError::internal(format!("the command failed: {e}"))))
}

fn answer(r: Result<Response, CmdError>) -> Response {
    r.unwrap_or_else(error)
}

pub fn error(e: CmdError) -> Response {
    Response::Error(e.into_reply())
}

/// A read of a session's file that failed: "deleted" said plainly when it
/// is gone (the session stays live until the next push).
fn read_error(ctx: &Context, t: &Target, e: crate::store::StoreError) -> CmdError {
    if e.is_not_found() {
        CmdError::not_found(format!(
            "{} was deleted (the session stays live until the next push)",
            ctx.core.store().session_path(&t.folder, &t.name).display()
        ))
    } else {
        e.into()
    }
}

/// Deletes a session's file (one already gone is fine: it may be live
/// still) and drops it from the live view at once, its token dead without a
/// push; whether either was there.
fn delete_now(txn: &mut crate::core::Txn<'_>, t: &Target) -> Result<bool, CmdError> {
    let deleted = match txn.delete(&t.folder, &t.name) {
        Ok(()) => true,
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e.into()),
    };
    Ok(txn.drop_live(&t.folder, &t.name) || deleted)
}

/// An error met after some sessions were already changed: it says which,
/// so a caller knows where things stand (and that nothing was pushed).
fn after_some(e: CmdError, done: &[ChangedSession]) -> CmdError {
    let changed: Vec<String> = done
        .iter()
        .filter(|s| s.changed)
        .map(|s| format!("{}/{}", s.app, s.id))
        .collect();
    if changed.is_empty() {
        return e;
    }
    CmdError::new(
        e.code,
        format!(
            "{}\n(done before this error, not pushed: {})",
            e.message,
            changed.join(", ")
        ),
    )
}

/// The row `set-status`, `delete` and friends report for one session.
fn changed_session(
    ctx: &Context,
    t: &Target,
    status: Option<Status>,
    changed: bool,
) -> ChangedSession {
    ChangedSession {
        app: t.folder.clone(),
        id: t.name.clone(),
        path: path_text(ctx, t),
        status,
        changed,
    }
}

/// The absolute path of a session's file, as answers print it.
fn path_text(ctx: &Context, t: &Target) -> String {
    let path = ctx.core.store().session_path(&t.folder, &t.name);
    path.display().to_string()
}

#[cfg(test)]
mod tests;
