//! inotify on the root of `MobileApps` and on each app folder (the tree is
//! two levels deep), read on the runtime.
//!
//! The mask leaves out `IN_OPEN`: notify's recursive watcher asks for opens,
//! so every read of a session file — ours during a rescan, or the 4D
//! server's — would wake the daemon.
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use futures::StreamExt;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

use super::barrier::COOKIE_PREFIX;
use super::{forward, Msg, Sender, Touch};
use crate::model::names::{is_app_folder_name, is_session_name, MANIFEST};

fn mask_of_folders() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::CLOSE_WRITE
        | WatchMask::MODIFY
        | WatchMask::ATTRIB
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::DONT_FOLLOW
        | WatchMask::ONLYDIR
}

/// Reads the inotify queue on the runtime; dropping it stops the reading.
pub struct InotifyWatcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for InotifyWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watch descriptor → app folder (`None` for the root).
type Folders = HashMap<WatchDescriptor, Option<String>>;

fn add(
    watches: &mut Watches,
    folders: &mut Folders,
    root: &Path,
    folder: &str,
) -> std::io::Result<()> {
    let wd = watches.add(root.join(folder), mask_of_folders())?;
    folders.insert(wd, Some(folder.to_string()));
    Ok(())
}

impl InotifyWatcher {
    pub fn start(root: &Path, tx: Sender, overflow: Arc<AtomicBool>) -> std::io::Result<Self> {
        let inotify = Inotify::init()?;
        let mut watches = inotify.watches();
        let mut folders = Folders::new();
        folders.insert(watches.add(root, mask_of_folders())?, None);
        for entry in std::fs::read_dir(root)?.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if is_app_folder_name(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                match add(&mut watches, &mut folders, root, &name) {
                    Ok(()) => {}
                    // The watch limit: the caller falls back to polling.
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return Err(e),
                    // One folder we cannot read must not stop the others being
                    // watched; it is watched once an event shows it readable.
                    Err(e) => tracing::warn!("cannot watch app folder {name}: {e}"),
                }
            }
        }
        let mut stream = inotify.into_event_stream(vec![0u8; 64 * 1024])?;
        let root = root.to_path_buf();
        let task = tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!("inotify: {e}");
                        forward(&tx, &overflow, Msg::Rescan("inotify reported an error"));
                        continue;
                    }
                };
                let name = match event.name {
                    None => Name::Own,
                    Some(n) => n.into_string().map_or(Name::Foreign, Name::Given),
                };
                let msg = on_event(
                    &root,
                    &mut watches,
                    &mut folders,
                    event.wd,
                    event.mask,
                    name,
                );
                if let Some(msg) = msg {
                    forward(&tx, &overflow, msg);
                }
            }
        });
        Ok(Self { task })
    }
}

/// The name an event carries.
enum Name {
    /// None: the event is about the watched folder itself.
    Own,
    Given(String),
    /// Not UTF-8: no app folder or session file is named so.
    Foreign,
}

fn on_event(
    root: &Path,
    watches: &mut Watches,
    folders: &mut Folders,
    wd: WatchDescriptor,
    mask: EventMask,
    name: Name,
) -> Option<Msg> {
    if mask.contains(EventMask::Q_OVERFLOW) {
        return Some(Msg::Rescan("the inotify queue overflowed"));
    }
    if mask.contains(EventMask::IGNORED) {
        folders.remove(&wd);
        return None;
    }
    let gone = EventMask::DELETE_SELF | EventMask::MOVE_SELF;
    match (folders.get(&wd)?.clone(), name) {
        (_, Name::Foreign) => None,
        // The root itself: only its removal or move matters (not a chmod or
        // a touch); then nothing is watched any more.
        (None, Name::Own) => mask
            .intersects(gone)
            .then(|| Msg::Failed("MobileApps itself was moved or deleted".to_string())),
        (None, Name::Given(name)) if name.starts_with(COOKIE_PREFIX) => mask
            .contains(EventMask::CREATE)
            .then_some(Msg::Cookie(name)),
        (None, Name::Given(name)) if is_app_folder_name(&name) => {
            // Moved out (or renamed) or deleted: its watch no longer speaks
            // for the name. Dropped here, not on the folder's own MOVE_SELF:
            // a rename within the root re-adds the watch under the new name
            // (MOVED_TO comes first) and that watch must live on.
            if mask.contains(EventMask::ISDIR)
                && mask.intersects(EventMask::MOVED_FROM | EventMask::DELETE)
            {
                drop_watches_of(watches, folders, &name, None);
            }
            // A new folder, one moved in, or one whose permissions changed
            // (it may have become readable): watch it. Always asked anew:
            // inotify answers the same watch for the same folder, and a
            // folder moved in under the name of one moved out gets its own.
            if mask.contains(EventMask::ISDIR)
                && mask.intersects(EventMask::CREATE | EventMask::MOVED_TO | EventMask::ATTRIB)
            {
                // Files written before this watch exists are found when
                // the folder is read (see `apply_path`).
                match watches.add(root.join(&name), mask_of_folders()) {
                    Ok(new) => {
                        drop_watches_of(watches, folders, &name, Some(&new));
                        folders.insert(new, Some(name.clone()));
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                        return Some(Msg::Failed(format!(
                            "the inotify watch limit is reached ({e})"
                        )));
                    }
                    Err(e) => tracing::debug!("cannot watch {name}: {e}"),
                }
            }
            Some(Msg::Paths(vec![root.join(name)], Touch::Changed))
        }
        (None, Name::Given(_)) => None,
        (Some(folder), Name::Given(name)) if is_session_name(&name) || name == MANIFEST => Some(
            Msg::Paths(vec![root.join(folder).join(name)], touch_of(mask)),
        ),
        (Some(_), Name::Given(_)) => None,
        // The folder itself (a chmod, a move, a removal): read it again under
        // its name. Its watch is dropped by the root's event for the name.
        (Some(folder), Name::Own) => Some(Msg::Paths(vec![root.join(folder)], Touch::Changed)),
    }
}

/// What a file's event says of its writer. `IN_CLOSE_WRITE` ends a write
/// (`IN_OPEN` does not say for what a file was opened, and is not asked
/// for); a write not closed yet shows as `IN_MODIFY` (a truncation too) or,
/// for a new file, `IN_CREATE`.
fn touch_of(mask: EventMask) -> Touch {
    if mask.intersects(
        EventMask::CLOSE_WRITE | EventMask::MOVED_TO | EventMask::MOVED_FROM | EventMask::DELETE,
    ) {
        Touch::Done
    } else if mask.intersects(EventMask::MODIFY | EventMask::CREATE) {
        Touch::Writing
    } else {
        Touch::Changed
    }
}

/// Drops the watches that stand for app folder `name`, but `keep`.
fn drop_watches_of(
    watches: &mut Watches,
    folders: &mut Folders,
    name: &str,
    keep: Option<&WatchDescriptor>,
) {
    let stale: Vec<WatchDescriptor> = folders
        .iter()
        .filter(|(w, f)| Some(*w) != keep && f.as_deref() == Some(name))
        .map(|(w, _)| w.clone())
        .collect();
    for w in stale {
        let _ = watches.remove(w.clone());
        folders.remove(&w);
    }
}
