//! App folders: listed again, scanned whole, unreadable, or gone.

use std::collections::HashSet;
use std::mem;

use super::{
    mark_readable, offer_label, one_name_per_id, recheck_label, Effects, Failure, FolderScan, Note,
    Retry, Scanned,
};
use crate::model::app::AppLabel;
use crate::model::event::{change_event, diff_event};
use crate::model::names::SessionKey;
use crate::model::view::{AppView, DiskView};

/// The folder is gone (or is no folder now): its entries go, each a
/// `deleted` event.
pub fn folder_gone(view: &mut DiskView, folder: &str, fx: &mut Effects<'_>) {
    fx.forget.push(Retry::Folder(folder.into()));
    if let Some(app) = view.remove_app(folder) {
        for e in app.sessions.values() {
            fx.emit(|| Some(change_event(folder, &e.name, Some(e), None)));
        }
    }
}

/// The folder cannot be listed or opened: its entries are kept as last
/// read (its live sessions stay live), `status` and `apps` say so, and a
/// transient error is retried; a permanent one (permissions) waits for the
/// watcher to see the folder change.
pub fn folder_unreadable(
    view: &mut DiskView,
    folder: &str,
    failure: Failure,
    fx: &mut Effects<'_>,
) {
    let app = view.app_mut(folder);
    let newly = !mem::replace(&mut app.meta.unreadable, true);
    let retry = Retry::Folder(folder.into());
    if failure.transient {
        fx.schedule.push(retry);
    } else {
        fx.forget.push(retry);
    }
    if newly {
        fx.notes.push(Note::FolderUnreadable {
            folder: folder.into(),
            failure,
        });
    }
}

/// The folder was listed again (`names`, its session file names): returns
/// the files to read, in order — those that stand for their session, then
/// those of the view that are no longer listed (gone, or back meanwhile).
pub fn folder_listed(
    view: &mut DiskView,
    folder: &str,
    manifest_label: Option<AppLabel>,
    names: Vec<String>,
    fx: &mut Effects<'_>,
) -> Vec<String> {
    fx.forget.push(Retry::Folder(folder.into()));
    let (mut kept, shadowed) = one_name_per_id(names);
    let app = view.app_mut(folder);
    listing_read(app, folder, manifest_label, shadowed, fx);
    let listed: HashSet<&str> = kept.iter().map(String::as_str).collect();
    let gone: Vec<String> = app
        .sessions
        .values()
        .filter(|e| !listed.contains(&*e.name))
        .map(|e| e.name.to_string())
        .collect();
    kept.extend(gone);
    kept
}

/// What any listing of the folder tells besides its sessions: its
/// manifest's label, the names shadowed (said), that it can be read.
fn listing_read(
    app: &mut AppView,
    folder: &str,
    manifest_label: Option<AppLabel>,
    shadowed: Vec<String>,
    fx: &mut Effects<'_>,
) {
    for name in &shadowed {
        fx.notes.push(Note::CaseClash {
            folder: folder.into(),
            name: name.clone(),
        });
    }
    app.meta.manifest_label = manifest_label;
    app.meta.shadowed = shadowed.into_iter().collect();
    mark_readable(app, folder, fx);
}

/// Every app folder as a scan found it (`refresh`, `push --full`, a
/// watcher overflow, the start): folders not found are gone, and every
/// retry not scheduled again is done with. A scan hands its folders over
/// one by one, between [`rescan_begin`] and [`rescan_end`]; this is all
/// three at once.
pub fn rescan(view: &mut DiskView, scanned: Vec<FolderScan>, fx: &mut Effects<'_>) {
    rescan_begin(view, fx);
    let found: Vec<String> = scanned.iter().map(|f| f.folder.clone()).collect();
    for f in scanned {
        folder_scanned(view, f, fx);
    }
    rescan_end(view, &found, fx);
}

/// A scan of every folder begins. Into an empty view (the start) every
/// file comes new: the next push compares them all at once rather than
/// key by key.
pub fn rescan_begin(view: &mut DiskView, fx: &mut Effects<'_>) {
    fx.only_scheduled = true;
    if view.apps().is_empty() {
        view.mark_all_dirty();
    }
}

/// A scan of every folder ended, having found the folders `found` (each
/// handed to [`folder_scanned`]): the others are gone.
pub fn rescan_end(view: &mut DiskView, found: &[String], fx: &mut Effects<'_>) {
    let found: HashSet<&str> = found.iter().map(String::as_str).collect();
    let gone: Vec<String> = view
        .apps()
        .keys()
        .filter(|f| !found.contains(f.as_str()))
        .cloned()
        .collect();
    for folder in gone {
        folder_gone(view, &folder, fx);
    }
}

/// One app folder as a scan found it. The view is updated in place: an
/// entry whose file did not change ([`Scanned::Same`]) is not touched.
pub fn folder_scanned(view: &mut DiskView, scan: FolderScan, fx: &mut Effects<'_>) {
    let FolderScan {
        folder,
        entries,
        session_label,
        manifest_label,
        shadowed,
    } = scan;
    let entries = match entries {
        Ok(entries) => entries,
        Err(failure) => return folder_unreadable(view, &folder, failure, fx),
    };
    let app = view.app_mut(&folder);
    listing_read(app, &folder, manifest_label, shadowed, fx);
    // Entries found that the view holds: when they are all it holds,
    // nothing vanished, and no set of names is built (a rescan of
    // unchanged files, the start). Asked of `Same` too: a file being
    // written is `Same` whether or not the view has an entry of it.
    let held = entries
        .iter()
        .filter(|(id, _)| app.sessions.contains_key(id))
        .count();
    let vanished: Vec<String> = if held == app.sessions.len() {
        Vec::new()
    } else {
        let seen: HashSet<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
        app.sessions
            .keys()
            .filter(|id| !seen.contains(id.as_str()))
            .cloned()
            .collect()
    };
    for (id, found) in entries {
        match found {
            Scanned::Same => {}
            Scanned::Read(entry) => {
                fx.emit(|| {
                    diff_event(
                        &folder,
                        &entry.name,
                        view.get_in(&folder, &id),
                        Some(&entry),
                    )
                });
                view.insert_id(&folder, id, entry);
            }
            Scanned::Transient { name, failure } => fx.keep_last_reading(&folder, &name, failure),
        }
    }
    for id in vanished {
        if let Some(before) = view.remove(&SessionKey::new(&folder, &id)) {
            fx.emit(|| Some(change_event(&folder, &before.name, Some(&before), None)));
        }
    }
    if let Some(app) = view.app_mut_if_known(&folder) {
        recheck_label(app, &folder, session_label, fx);
    }
}

/// What session `id` says of its app, read for a [`super::FollowUp::Label`]:
/// taken if that session is still valid and names the app.
pub fn label_read(view: &mut DiskView, folder: &str, id: &str, label: AppLabel) {
    let Some(app) = view.app_mut_if_known(folder) else {
        return;
    };
    if app.sessions.get(id).is_some_and(|e| e.state.is_ok()) {
        offer_label(&mut app.meta, id, label);
    }
}
