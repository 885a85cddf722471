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
use super::{forward, Msg, Sender};
use crate::model::names::{is_app_folder_name, is_session_name};

fn mask() -> WatchMask {
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
    let wd = watches.add(root.join(folder), mask())?;
    folders.insert(wd, Some(folder.to_string()));
    Ok(())
}

impl InotifyWatcher {
    pub fn start(root: &Path, tx: Sender, overflow: Arc<AtomicBool>) -> std::io::Result<Self> {
        let inotify = Inotify::init()?;
        let mut watches = inotify.watches();
        let mut folders = Folders::new();
        folders.insert(watches.add(root, mask())?, None);
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
                let name = event.name.and_then(|n| n.into_string().ok());
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

fn on_event(
    root: &Path,
    watches: &mut Watches,
    folders: &mut Folders,
    wd: WatchDescriptor,
    mask: EventMask,
    name: Option<String>,
) -> Option<Msg> {
    if mask.contains(EventMask::Q_OVERFLOW) {
        return Some(Msg::Rescan("the inotify queue overflowed"));
    }
    if mask.contains(EventMask::IGNORED) {
        folders.remove(&wd);
        return None;
    }
    match (folders.get(&wd)?.clone(), name) {
        // The root itself went away or moved.
        (None, None) => Some(Msg::Rescan("MobileApps itself changed")),
        (None, Some(name)) if name.starts_with(COOKIE_PREFIX) => mask
            .contains(EventMask::CREATE)
            .then_some(Msg::Cookie(name)),
        (None, Some(name)) if is_app_folder_name(&name) => {
            // A new folder, one moved in, or one whose permissions changed
            // (it may have become readable): watch it if not yet watched.
            let unwatched = || {
                !folders
                    .values()
                    .any(|f| f.as_deref() == Some(name.as_str()))
            };
            if mask.contains(EventMask::ISDIR)
                && mask.intersects(EventMask::CREATE | EventMask::MOVED_TO | EventMask::ATTRIB)
                && unwatched()
            {
                // Files written before this watch exists are found when
                // the folder is read (see `apply_path`).
                if let Err(e) = add(watches, folders, root, &name) {
                    if e.raw_os_error() == Some(libc::ENOSPC) {
                        return Some(Msg::Failed(format!(
                            "the inotify watch limit is reached ({e})"
                        )));
                    }
                    tracing::debug!("cannot watch {name}: {e}");
                }
            }
            Some(Msg::Paths(vec![root.join(name)]))
        }
        (None, Some(_)) => None,
        (Some(folder), Some(name)) if is_session_name(&name) => {
            Some(Msg::Paths(vec![root.join(folder).join(name)]))
        }
        (Some(_), Some(_)) => None,
        (Some(folder), None) => Some(Msg::Paths(vec![root.join(folder)])),
    }
}
