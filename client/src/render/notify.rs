//! `notify`: 4D's `PushNotification` answer with the counts and results.

use mobile_session::{NotifyCounts, NotifyReply, NotifyResult, NotifyStatus};
use serde_json::{json, Value};

use super::{table, Cell, View};

fn result_json(r: &NotifyResult) -> Value {
    json!({
        "app": r.app,
        "id": r.id,
        "platform": r.platform.map(|p| p.as_str()),
        "status": r.status.as_str(),
        "reason": r.reason,
        "token_removed": r.token_removed,
    })
}

pub fn reply_json(r: &NotifyReply) -> Value {
    json!({
        "success": r.success,
        "warnings": r.warnings,
        "errors": r.errors,
        "sent": r.sent,
        "failed": r.failed,
        "skipped": r.skipped,
        "results": r.results.iter().map(result_json).collect::<Vec<_>>(),
        "app": r.app,
        "dry_run": r.dry_run,
    })
}

/// The counts of a `notify` event, as `watch --json` prints them.
pub fn counts_json(n: &NotifyCounts) -> Value {
    json!({"sent": n.sent, "failed": n.failed, "skipped": n.skipped, "tokens_removed": n.tokens_removed})
}

/// The answer: 4D's shape with `--json`, the ids reached with `-q`, else a
/// table of the sessions and a line of counts.
pub fn notified(r: &NotifyReply, view: &View) -> String {
    if view.json {
        return format!("{}\n", reply_json(r));
    }
    if view.quiet {
        // The sessions reached (would be, with --dry-run).
        let reached = |x: &&NotifyResult| match r.dry_run {
            true => x.reason.as_deref() == Some("dry run"),
            false => x.status == NotifyStatus::Sent,
        };
        return r
            .results
            .iter()
            .filter(reached)
            .map(|x| format!("{}\n", x.id))
            .collect();
    }
    let rows = r
        .results
        .iter()
        .map(|x| {
            let mut reason = x.reason.clone().unwrap_or_default();
            if x.token_removed {
                reason.push_str(" (token removed)");
            }
            vec![
                Cell::from(x.app.as_str()),
                Cell::from(x.id.as_str()),
                Cell::from(x.platform.map_or("-", |p| p.as_str())),
                Cell::from(x.status.as_str()),
                Cell::from(reason),
            ]
        })
        .collect();
    let mut out = table(view, &["APP", "ID", "PLATFORM", "STATUS", "REASON"], rows);
    let removed = r.results.iter().filter(|x| x.token_removed).count();
    let what = if r.dry_run {
        "dry run, nothing sent"
    } else {
        "notified"
    };
    out.push_str(&format!(
        "{what}: {} sent, {} failed ({removed} tokens removed), {} skipped\n",
        r.sent, r.failed, r.skipped
    ));
    out
}
