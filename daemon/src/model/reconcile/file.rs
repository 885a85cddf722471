//! One session file read again: after our own write, when the watcher
//! reports it, or when its retry is due.

use super::{
    folder_unreadable, mark_readable, offer_label, recheck_label, stands_before, Effects, FileRead,
    FollowUp, Note,
};
use crate::model::app::AppLabel;
use crate::model::event::diff_event;
use crate::model::names::SessionKey;
use crate::model::view::{DiskEntry, DiskView};

/// The name that stands for the session of file `name` in the view, when it
/// is another one that stands before `name`: then `name` is shadowed, as
/// long as that file exists — which only the caller can check, before
/// calling [`shadowed`] (it does) or [`file_read`] (it does not).
pub fn standing_rival<'v>(view: &'v DiskView, folder: &str, name: &str) -> Option<&'v str> {
    let entry = view.get(&SessionKey::new(folder, name))?;
    (*entry.name != *name && stands_before(&entry.name, name)).then_some(&*entry.name)
}

/// File `name` is not read: `by` stands for its session. It is kept among
/// the shadowed names while it `exists`, to take over when `by` goes.
pub fn shadowed(
    view: &mut DiskView,
    folder: &str,
    name: &str,
    by: &str,
    exists: bool,
    fx: &mut Effects<'_>,
) {
    fx.file_done(folder, name);
    fx.notes.push(Note::Shadowed {
        folder: folder.into(),
        name: name.into(),
        by: by.into(),
    });
    let shadowed = &mut view.app_mut(folder).meta.shadowed;
    if exists {
        shadowed.insert(name.to_string());
    } else {
        shadowed.remove(name);
    }
}

/// What reading file `name` of `folder` gave, applied to the view.
pub fn file_read(
    view: &mut DiskView,
    folder: &str,
    name: &str,
    read: FileRead,
    fx: &mut Effects<'_>,
) {
    let key = SessionKey::new(folder, name);
    let before = match read {
        FileRead::FolderUnreadable(failure) => return folder_unreadable(view, folder, failure, fx),
        FileRead::Transient(failure) => return fx.keep_last_reading(folder, name, failure),
        FileRead::Writing => return,
        FileRead::Gone => gone(view, folder, name, &key),
        FileRead::Found(entry, label) => found(view, folder, name, &key, entry, label, fx),
    };
    fx.file_done(folder, name);
    next_contender(view, folder, &key, fx);
    let was_valid = before.as_ref().is_some_and(|e| e.state.is_ok());
    let is_valid = view
        .get(&key)
        .is_some_and(|e| *e.name == *name && e.state.is_ok());
    if was_valid && !is_valid {
        if let Some(app) = view.app_mut_if_known(folder) {
            recheck_label(app, folder, None, fx);
        }
    }
    // The file's entry now, if it stands for its session.
    let after = view.get(&key).filter(|e| *e.name == *name);
    fx.emit(|| diff_event(folder, name, before.as_ref(), after));
}

/// The file is gone: its entry goes if it stood for the session.
fn gone(view: &mut DiskView, folder: &str, name: &str, key: &SessionKey) -> Option<DiskEntry> {
    // The entry may be another name's (one differing in case): then it stays.
    let stood = view.get(key).is_some_and(|e| *e.name == *name);
    let before = if stood { view.remove(key) } else { None };
    if let Some(app) = view.app_mut_if_known(folder) {
        app.meta.shadowed.remove(name);
    }
    before
}

/// The file was read: its entry replaces the one the session had. A name
/// differing only in case that stood until now is shadowed from now on.
fn found(
    view: &mut DiskView,
    folder: &str,
    name: &str,
    key: &SessionKey,
    entry: DiskEntry,
    label: Option<AppLabel>,
    fx: &mut Effects<'_>,
) -> Option<DiskEntry> {
    let before = view.insert(folder, entry);
    let app = view.app_mut(folder);
    app.meta.shadowed.remove(name);
    if let Some(displaced) = before.as_ref().filter(|b| *b.name != *name) {
        app.meta.shadowed.insert(displaced.name.to_string());
    }
    if let Some(label) = label {
        offer_label(&mut app.meta, key.id(), label);
    }
    // Its folder opened: it can be read.
    mark_readable(app, folder, fx);
    before
}

/// A shadowed name of the session that would stand before the name
/// standing now (or any, when none does) is read next: it takes the
/// session over, or is found gone and dropped — then the next is tried.
fn next_contender(view: &mut DiskView, folder: &str, key: &SessionKey, fx: &mut Effects<'_>) {
    let standing = view.get(key).map(|e| e.name.to_string());
    let Some(app) = view.app_mut_if_known(folder) else {
        return;
    };
    // In the set's order, the first is the one that would stand.
    let contender = app
        .meta
        .shadowed
        .iter()
        .filter(|n| n.eq_ignore_ascii_case(key.id()))
        .find(|n| standing.as_deref().is_none_or(|s| stands_before(n, s)))
        .cloned();
    if let Some(name) = contender {
        app.meta.shadowed.remove(&name);
        fx.follow_ups.push(FollowUp::Read {
            folder: folder.into(),
            name,
        });
    }
}
