//! Activity: the later of when a session was last seen and when its file
//! was last written — what `sessions --seen-after`, `--seen-before`,
//! `--sort activity` and `--duplicates`, `purge` and `dedupe` go by.
//! Gathering it reads the views once, the last-seen table once, and the
//! time of every file (one `stat` each, on the blocking pool): its cost
//! grows with the sessions, as these requests declare.

use std::collections::HashMap;
use std::sync::Arc;

use mobile_session_proto::{SessionFilter, SessionRow, SessionSort, Unpushed};

use super::resolve::Target;
use super::Context;
use crate::model::names::SessionKey;
use crate::model::seen::now_ms;
use crate::model::session::SessionRecord;
use crate::model::view::{rows_page, RowSource};

/// Records that the live session `name` of `folder` was seen now.
pub fn seen(ctx: &Context, folder: &str, name: &str) {
    if let Some(rec) = ctx.core.read_live(|live| live.get(folder, name).cloned()) {
        ctx.state.seen.touch(folder, &rec);
    }
}

/// A valid session file with what its activity is made of (ms).
#[derive(Debug, Clone)]
pub struct Fact {
    pub folder: String,
    pub name: String,
    pub rec: Arc<SessionRecord>,
    pub last_seen: Option<u64>,
    pub modified: Option<u64>,
}

impl Fact {
    pub fn activity(&self) -> Option<u64> {
        self.last_seen.max(self.modified)
    }

    pub fn target(&self) -> Target {
        Target {
            folder: self.folder.clone(),
            name: self.name.clone(),
        }
    }
}

/// The live cell of a session, in seconds: its live record's, or its disk
/// record's when that is the one (0 for never).
fn cell(live: Option<&Arc<SessionRecord>>, disk: Option<&Arc<SessionRecord>>) -> u64 {
    let secs = |r: Option<&Arc<SessionRecord>>| r.map_or(0, |r| r.seen.secs());
    secs(live).max(secs(disk))
}

/// Last seen and last write (ms) of each `(folder, name, live cell, has a
/// file)`; items of one folder side by side share one open folder.
fn stamps(ctx: &Context, items: &[(&str, &str, u64, bool)]) -> Vec<(Option<u64>, Option<u64>)> {
    let seen: Vec<Option<u64>> = {
        let reader = ctx.state.seen.reader();
        items
            .iter()
            .map(|(f, n, c, _)| reader.ms(f, n, *c))
            .collect()
    };
    let mut modified = Vec::with_capacity(items.len());
    for run in items.chunk_by(|a, b| a.0 == b.0) {
        let names: Vec<&str> = run.iter().filter(|i| i.3).map(|i| i.1).collect();
        let mut times = ctx.core.store().modified(run[0].0, &names).into_iter();
        modified.extend(
            run.iter()
                .map(|i| if i.3 { times.next().flatten() } else { None }),
        );
    }
    seen.into_iter().zip(modified).collect()
}

/// The valid session files of `app` (or of every app), with their activity.
pub fn facts(ctx: &Context, app: Option<&str>) -> Vec<Fact> {
    let found: Vec<(String, String, Arc<SessionRecord>, u64)> =
        ctx.core.read_views(|disk, live| {
            let mut out = Vec::new();
            for (folder, a) in disk.apps() {
                if app.is_some_and(|x| x != folder) {
                    continue;
                }
                for e in a.sessions.values() {
                    if let Ok(rec) = &e.state {
                        let c = cell(live.get(folder, &e.name), Some(rec));
                        out.push((folder.clone(), e.name.to_string(), rec.clone(), c));
                    }
                }
            }
            out
        });
    let items: Vec<_> = found
        .iter()
        .map(|(f, n, _, c)| (f.as_str(), n.as_str(), *c, true))
        .collect();
    let stamped = stamps(ctx, &items);
    found
        .into_iter()
        .zip(stamped)
        .map(|((folder, name, rec, _), (last_seen, modified))| Fact {
            folder,
            name,
            rec,
            last_seen,
            modified,
        })
        .collect()
}

/// The push token in a `device` object's JSON text.
pub fn push_token(device: &str) -> Option<String> {
    let d: serde_json::Value = serde_json::from_str(device).ok()?;
    let token = d.get("token")?.as_str()?;
    (!token.is_empty()).then(|| token.to_string())
}

/// Groups of sessions (`folder`, record) that share an app and a
/// `device.id`, or an app and a push token, one with another: indices
/// into `items`, each group in item order, groups in the order of their
/// first member. Sessions alone are in no group.
pub fn duplicate_groups(items: &[(&str, &SessionRecord)]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first: HashMap<(&str, bool, String), usize> = HashMap::new();
    for (i, (folder, rec)) in items.iter().enumerate() {
        let id = rec.device_id.as_deref().filter(|d| !d.is_empty());
        let keys = [
            id.map(|d| (*folder, false, d.to_string())),
            push_token(&rec.device).map(|t| (*folder, true, t)),
        ];
        for key in keys.into_iter().flatten() {
            let j = *first.entry(key).or_insert(i);
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..items.len() {
        let r = root(&mut parent, i);
        let g = *group_of.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.retain(|g| g.len() > 1);
    groups
}

/// Whether a listing goes by activity (and so is gathered whole).
pub fn wanted(f: &SessionFilter) -> bool {
    f.sort == SessionSort::Activity
        || f.seen_after_secs.is_some()
        || f.seen_before_secs.is_some()
        || f.duplicates
}

/// Renders a row with its last seen (ms) and its group of duplicates.
pub type Render<'a> = &'a dyn Fn(&RowSource, Option<u64>, Option<u64>) -> SessionRow;

/// What an activity listing needs of the `sessions` query.
pub struct Listing<'a> {
    pub filter: &'a SessionFilter,
    /// The app folder it is limited to.
    pub within: Option<&'a str>,
    pub deleted: &'a [(SessionKey, Arc<SessionRecord>)],
    pub keep: &'a dyn Fn(&RowSource) -> bool,
    pub render: Render<'a>,
}

/// The rows of a listing by activity, whole: those active within (or not
/// within) the given time, oldest first (ties in (folder, id) order); with
/// `duplicates`, the groups of duplicates one after the other, the most
/// recently active of each first.
pub fn listing(ctx: &Context, q: &Listing<'_>) -> Vec<SessionRow> {
    let dup = q.filter.duplicates;
    let (rows, cells) = ctx.core.read_views(|disk, live| {
        let scope = |r: &RowSource| q.within.is_none_or(|w| w == r.folder);
        let (rows, _) = rows_page(disk, live, q.deleted, q.within, None, usize::MAX, |r| {
            if dup {
                scope(r) && r.invalid.is_none() && r.unpushed != Some(Unpushed::Deleted)
            } else {
                (q.keep)(r)
            }
        });
        let cells: Vec<u64> = rows
            .iter()
            .map(|r| cell(live.get(&r.folder, &r.name), r.record.as_ref()))
            .collect();
        (rows, cells)
    });
    let items: Vec<_> = rows
        .iter()
        .zip(&cells)
        .map(|(r, c)| {
            (
                r.folder.as_str(),
                r.name.as_str(),
                *c,
                r.unpushed != Some(Unpushed::Deleted),
            )
        })
        .collect();
    let stamped = stamps(ctx, &items);
    let activity = |i: usize| stamped[i].0.max(stamped[i].1);
    let now = now_ms();
    let within = |i: usize| {
        let ago = |secs: u64| now.saturating_sub(secs.saturating_mul(1000));
        let (after, before) = (q.filter.seen_after_secs, q.filter.seen_before_secs);
        match activity(i) {
            None => after.is_none() && before.is_none(),
            Some(a) => after.is_none_or(|s| a >= ago(s)) && before.is_none_or(|s| a < ago(s)),
        }
    };
    let mut order: Vec<(usize, Option<u64>)> = Vec::new();
    if dup {
        let valid: Vec<(&str, &SessionRecord)> = rows
            .iter()
            .filter_map(|r| Some((r.folder.as_str(), r.record.as_deref()?)))
            .collect();
        for (g, mut members) in duplicate_groups(&valid).into_iter().enumerate() {
            members.sort_by_key(|&i| std::cmp::Reverse(activity(i)));
            let shown = members
                .into_iter()
                .filter(|&i| (q.keep)(&rows[i]) && within(i));
            order.extend(shown.map(|i| (i, Some(g as u64 + 1))));
        }
    } else {
        let mut kept: Vec<usize> = (0..rows.len()).filter(|&i| within(i)).collect();
        // Stable: rows come in (folder, id) order.
        kept.sort_by_key(|&i| activity(i));
        order.extend(kept.into_iter().map(|i| (i, None)));
    }
    order
        .into_iter()
        .map(|(i, group)| (q.render)(&rows[i], stamped[i].0, group))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testgen::record;
    use mobile_session_proto::Status;

    fn rec(device_id: Option<&str>, token: Option<&str>) -> SessionRecord {
        let mut r = (*record("abcd", Status::Accepted, "x")).clone();
        r.device_id = device_id.map(Into::into);
        r.device = match token {
            Some(t) => format!("{{\"token\":\"{t}\"}}").into(),
            None => "{}".into(),
        };
        r
    }

    #[test]
    fn duplicates_share_an_app_and_a_device_or_a_push_token() {
        let recs = [
            ("A", rec(Some("d1"), None)),
            ("A", rec(Some("d2"), Some("t1"))),
            ("A", rec(Some("d1"), Some("t1"))), // joins both groups
            ("B", rec(Some("d1"), None)),       // another app
            ("A", rec(Some(""), None)),         // no device id: alone
            ("A", rec(Some(""), None)),
            ("B", rec(None, Some("t9"))),
            ("B", rec(Some("d7"), Some("t9"))),
        ];
        let items: Vec<(&str, &SessionRecord)> = recs.iter().map(|(f, r)| (*f, r)).collect();
        assert_eq!(duplicate_groups(&items), [vec![0, 1, 2], vec![6, 7]]);
    }

    #[test]
    fn push_tokens() {
        assert_eq!(push_token(r#"{"token":"ab"}"#).as_deref(), Some("ab"));
        assert_eq!(push_token(r#"{"token":""}"#), None);
        assert_eq!(push_token("null"), None);
    }
}
