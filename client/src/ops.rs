//! The operators' requests: what a push would do, purge by inactivity,
//! duplicates, the deny-list and the history. Admins only; the history and
//! the deny-list too (they show who administers, and devices' ids).

use std::time::Duration;

use mobile_session_proto::{
    AuditRecord, BlockEntry, BlockReport, BlockRequest, BlockTarget, DedupeRequest, HistoryQuery,
    PurgeRequest, PushReport, RemovalReport, Request, Response,
};

use crate::conn::unexpected;
use crate::{Client, ClientError};

impl Client {
    /// What [`Client::push`] would answer now (counts and invalid files),
    /// changing nothing: the push that follows reports the same, unless
    /// files change in between.
    pub async fn push_dry_run(&self, full: bool) -> Result<PushReport, ClientError> {
        match self.request(&Request::PushPreview { full }).await? {
            Response::Pushed(p) => Ok(p),
            r => Err(unexpected(r)),
        }
    }

    /// Deletes the sessions of `app` (or of every app) whose activity —
    /// last seen, or the file's last write, whichever is later — is older
    /// than `inactive` (or than `request.cutoff_ms`, when set); with
    /// `dry_run`, lists them and the cutoff used. See [`PurgeRequest`].
    pub async fn purge(&self, request: PurgeRequest) -> Result<RemovalReport, ClientError> {
        self.removal(Request::Purge(request)).await
    }

    /// [`Client::purge`] with the usual arguments: `inactive` for longer than this.
    pub async fn purge_inactive(
        &self,
        inactive: Duration,
        app: Option<String>,
        dry_run: bool,
        push: bool,
    ) -> Result<RemovalReport, ClientError> {
        self.purge(PurgeRequest {
            app,
            inactive_secs: inactive.as_secs(),
            cutoff_ms: None,
            dry_run,
            push,
        })
        .await
    }

    /// Of each group of sessions sharing an app and a `device.id` or a push
    /// token, deletes all but the most recently active (lists them with
    /// `dry_run`).
    pub async fn dedupe(
        &self,
        app: Option<String>,
        dry_run: bool,
        push: bool,
    ) -> Result<RemovalReport, ClientError> {
        self.removal(Request::Dedupe(DedupeRequest { app, dry_run, push }))
            .await
    }

    async fn removal(&self, req: Request) -> Result<RemovalReport, ClientError> {
        match self.request(&req).await? {
            Response::Removed(r) => Ok(r),
            r => Err(unexpected(r)),
        }
    }

    /// Puts devices on the deny-list — the devices of these sessions, or one
    /// app's `device.id` — deletes their sessions and drops them from the
    /// live view at once. Their next sign-in is refused with `reason`.
    pub async fn block(
        &self,
        target: BlockTarget,
        reason: Option<String>,
    ) -> Result<BlockReport, ClientError> {
        match self
            .request(&Request::Block(BlockRequest { target, reason }))
            .await?
        {
            Response::Blocks(b) => Ok(b),
            r => Err(unexpected(r)),
        }
    }

    /// Takes a device of an app off the deny-list; the entry lifted, or
    /// `None` when it was not blocked.
    pub async fn unblock(
        &self,
        app: &str,
        device: &str,
    ) -> Result<Option<BlockEntry>, ClientError> {
        let req = Request::Unblock {
            app: app.into(),
            device: device.into(),
        };
        match self.request(&req).await? {
            Response::Blocks(b) => Ok(b.entries.into_iter().next()),
            r => Err(unexpected(r)),
        }
    }

    /// The deny-list, in the order the devices were blocked.
    pub async fn blocked(&self) -> Result<Vec<BlockEntry>, ClientError> {
        match self.request(&Request::Blocked).await? {
            Response::BlockList(l) => Ok(l),
            r => Err(unexpected(r)),
        }
    }

    /// The history of changes made through the daemon, oldest first: of
    /// `target` (a SESSION or an APP, including ones deleted since) when
    /// given, of the last `since` when given. Gathered page by page.
    pub async fn history(
        &self,
        target: Option<String>,
        since: Option<Duration>,
    ) -> Result<Vec<AuditRecord>, ClientError> {
        let mut query = HistoryQuery {
            target,
            since_secs: since.map(|d| d.as_secs()),
            cursor: None,
        };
        let mut all = Vec::new();
        loop {
            match self.request(&Request::History(query.clone())).await? {
                Response::HistoryPage { records, next } => {
                    all.extend(records);
                    match next {
                        Some(c) => query.cursor = Some(c),
                        None => return Ok(all),
                    }
                }
                r => return Err(unexpected(r)),
            }
        }
    }
}
