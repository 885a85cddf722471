//! A polling watcher, for network file systems (`--poll`, `watcher =
//! "poll"`) and when inotify cannot watch: every interval it `lstat`s the
//! app folders, session files and manifests and reports what differs. (notify's
//! PollWatcher compares mtimes in whole seconds, so it misses a quick
//! second edit unless it hashes every file on every pass, which polling on
//! a network file system cannot afford.) Polling gives no order, so in
//! this mode a push rescans.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use super::{forward, Msg, OsWatcher, Sender, Touch};
use crate::model::names::{is_app_folder_name, is_session_name, MANIFEST};

/// Stops the polling thread when dropped.
pub struct Poller {
    stop: std_mpsc::Sender<()>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// What a pass remembers of each path: enough to see any rewrite.
type Stamp = (u64, u64, i64, i64, i64, i64);

fn stamp(m: &std::fs::Metadata) -> Stamp {
    (
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

fn poll_pass(root: &Path) -> HashMap<PathBuf, Stamp> {
    let mut seen = HashMap::new();
    let Ok(dir) = std::fs::read_dir(root) else {
        return seen;
    };
    for app in dir.flatten() {
        let name = app.file_name();
        let Some(folder) = name.to_str().filter(|n| is_app_folder_name(n)) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(app.path()) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        // A folder's identity and permissions: a chmod that makes it
        // readable (or not) is a change to look at; files coming and going
        // are seen file by file below.
        seen.insert(
            root.join(folder),
            (meta.ino(), u64::from(meta.mode()), 0, 0, 0, 0),
        );
        let Ok(files) = std::fs::read_dir(app.path()) else {
            continue;
        };
        for f in files.flatten() {
            if f.file_name()
                .to_str()
                .is_some_and(|n| is_session_name(n) || n == MANIFEST)
            {
                if let Ok(m) = std::fs::symlink_metadata(f.path()) {
                    seen.insert(f.path(), stamp(&m));
                }
            }
        }
    }
    seen
}

pub fn start(
    root: &Path,
    tx: Sender,
    overflow: Arc<AtomicBool>,
    interval: Duration,
) -> std::io::Result<OsWatcher> {
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a folder", root.display()),
        ));
    }
    let (stop, stopped) = std_mpsc::channel::<()>();
    let root = root.to_path_buf();
    std::thread::Builder::new()
        .name("mobile-sessiond-poll".into())
        .spawn(move || {
            let mut before = poll_pass(&root);
            // Ends when the Poller is dropped.
            while let Err(std_mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let now = poll_pass(&root);
                let mut changed: Vec<PathBuf> = now
                    .iter()
                    .filter(|(p, s)| before.get(*p) != Some(*s))
                    .map(|(p, _)| p.clone())
                    .collect();
                changed.extend(before.keys().filter(|p| !now.contains_key(*p)).cloned());
                if !changed.is_empty() {
                    forward(&tx, &overflow, Msg::Paths(changed, Touch::Polled));
                }
                before = now;
            }
        })?;
    Ok(OsWatcher::Poll(Poller { stop }))
}
