//! The cookie barrier: how a push waits until the inotify watcher has
//! applied every change made before it.
//!
//! The push creates a dot-file (the cookie) at the root of `MobileApps` and
//! waits until the settle loop sees its event. inotify queues events in
//! order, so every earlier change is in the batch the cookie flushes — a
//! push then costs what changed, not a rescan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::Duration;

use crate::core::PushBarrier;

pub const COOKIE_PREFIX: &str = ".mobile-sessiond-sync-";
/// How long a push waits for its cookie before it rescans instead.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

pub struct CookieBarrier {
    root: PathBuf,
    next: AtomicU64,
    waiters: Mutex<HashMap<String, mpsc::SyncSender<()>>>,
}

impl CookieBarrier {
    /// A barrier for `root`; cookies a killed daemon left there are removed.
    pub fn new(root: &Path) -> Self {
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_str().is_some_and(|n| n.starts_with(COOKIE_PREFIX))
                    && e.file_type().is_ok_and(|t| t.is_file())
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Self {
            root: root.to_path_buf(),
            next: AtomicU64::new(0),
            waiters: Mutex::new(HashMap::new()),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, HashMap<String, mpsc::SyncSender<()>>> {
        crate::locks::lock(&self.waiters)
    }

    /// The settle loop applied a batch that held these cookies.
    pub fn release(&self, cookies: &[String]) {
        let mut w = self.waiters();
        for c in cookies {
            if let Some(tx) = w.remove(c) {
                let _ = tx.try_send(());
            }
        }
    }
}

impl PushBarrier for CookieBarrier {
    fn sync(&self) -> bool {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{COOKIE_PREFIX}{}-{n}", std::process::id());
        let (tx, rx) = mpsc::sync_channel(1);
        self.waiters().insert(name.clone(), tx);
        let path = self.root.join(&name);
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map(drop);
        let ok = created.is_ok() && rx.recv_timeout(SYNC_TIMEOUT).is_ok();
        self.waiters().remove(&name);
        let _ = std::fs::remove_file(&path);
        ok
    }
}
