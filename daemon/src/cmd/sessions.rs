//! `sessions [APP] [filters]`: the disk view's rows, sent in pages so that
//! 100 000 sessions never make one huge frame.
use std::sync::Arc;

use interprocess::local_socket::tokio::Stream;
use mobile_session_proto::{Connection, Response, Role, SessionFilter, SESSIONS_PAGE_ROWS};

use crate::state::State;

/// Returns whether the connection may go on.
pub async fn run(
    conn: &mut Connection<Stream>,
    state: &Arc<State>,
    role: Role,
    filter: SessionFilter,
) -> bool {
    let s = state.clone();
    let rows =
        match tokio::task::spawn_blocking(move || s.sessions(&filter, role != Role::Admin)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return conn.send(&super::error(e)).await.is_ok(),
            Err(e) => {
                let e = crate::error::CmdError::internal(e.to_string());
                return conn.send(&super::error(e)).await.is_ok();
            }
        };
    let mut pages = rows.chunks(SESSIONS_PAGE_ROWS).peekable();
    if pages.peek().is_none() {
        return conn
            .send(&Response::SessionsPage {
                rows: Vec::new(),
                done: true,
            })
            .await
            .is_ok();
    }
    while let Some(page) = pages.next() {
        let msg = Response::SessionsPage {
            rows: page.to_vec(),
            done: pages.peek().is_none(),
        };
        if conn.send(&msg).await.is_err() {
            return false;
        }
    }
    true
}
