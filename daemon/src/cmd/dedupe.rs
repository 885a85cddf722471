//! `dedupe [APP] [--dry-run] [--push]`: of each group of sessions that
//! share an app and a `device.id`, or an app and a push token (the cause of
//! duplicate notifications), keeps the most recently active one (ties: the
//! smallest id) and deletes the others, through [`purge::remove`]. A
//! session is deleted only while the one kept in its place is still there.

use std::cmp::Reverse;
use std::collections::HashMap;

use mobile_session_proto::{DedupeRequest, Response};

use super::activity::{duplicate_groups, facts, Fact};
use super::purge::{self, app_of};
use super::{CmdError, Context};
use crate::model::names::SessionKey;
use crate::model::session::SessionRecord;

pub fn handle(ctx: &Context, req: &DedupeRequest) -> Result<Response, CmdError> {
    let app = app_of(ctx, req.app.as_deref())?;
    let facts = facts(ctx, app.as_deref());
    let items: Vec<(&str, &SessionRecord)> =
        facts.iter().map(|f| (f.folder.as_str(), &*f.rec)).collect();
    let mut plan: Vec<(Fact, Option<String>)> = Vec::new();
    let mut kept_in: HashMap<(String, String), String> = HashMap::new();
    for mut group in duplicate_groups(&items) {
        group.sort_by_key(|&i| {
            (
                Reverse(facts[i].activity()),
                facts[i].name.to_ascii_lowercase(),
            )
        });
        let keep = &facts[group[0]];
        for &i in &group[1..] {
            let f = &facts[i];
            kept_in.insert((f.folder.clone(), f.name.clone()), keep.name.clone());
            plan.push((f.clone(), Some(keep.rec.id.to_string())));
        }
    }
    let kept_is_there = |f: &Fact| {
        let Some(kept) = kept_in.get(&(f.folder.clone(), f.name.clone())) else {
            return false;
        };
        let key = SessionKey::new(&f.folder, kept);
        ctx.core
            .read_views(|disk, _| disk.get(&key).is_some_and(|e| e.state.is_ok()))
    };
    let report = purge::remove(ctx, "dedupe", plan, &kept_is_there, req.dry_run, req.push)?;
    Ok(Response::Removed(report))
}
