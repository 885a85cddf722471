//! `status`: the daemon's version, pid, uptime, paths, counts, watcher and
//! connections. Answered inline from a copy of the counts that each change
//! refreshes: it never waits on a view lock.
use std::sync::atomic::Ordering;

use mobile_session_proto::{DaemonStatus, Response};

use super::Context;
use crate::core::Core;

pub fn report(ctx: &Context) -> DaemonStatus {
    let counts = ctx.core.counts();
    let stats = &ctx.core.stats;
    DaemonStatus {
        version: mobile_session_proto::VERSION.to_string(),
        protocol: mobile_session_proto::PROTOCOL_VERSION,
        pid: std::process::id(),
        uptime_secs: ctx.info.started.elapsed().as_secs(),
        data_dir: ctx.info.data_dir.display().to_string(),
        socket: ctx.info.socket.display().to_string(),
        live: counts.live,
        on_disk: counts.on_disk,
        unpushed: counts.unpushed,
        invalid: counts.invalid,
        watcher: ctx.core.watcher_state(),
        rescans: stats.rescans.load(Ordering::Relaxed),
        auto_push: ctx.core.config().auto_push,
        connections: stats.connections.load(Ordering::Relaxed),
        watchers: stats.watchers.load(Ordering::Relaxed),
        max_connections: ctx.info.max_connections,
        read_errors: stats.read_errors.load(Ordering::Relaxed),
        unreadable_folders: counts.unreadable_folders,
        writing: ctx.core.writing_files().len() as u64,
    }
}

pub fn handle(ctx: &Context) -> Response {
    Response::Status(report(ctx))
}

/// Counts for the service manager's STATUS= line.
pub fn summary(core: &Core) -> String {
    let c = core.counts();
    format!(
        "{} live, {} on disk, {} unpushed, {} invalid",
        c.live, c.on_disk, c.unpushed, c.invalid
    )
}
