//! notify's native watcher (FSEvents, kqueue, …) where inotify is not used.
//! It gives no order a push could rely on, so there a push rescans.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::barrier::COOKIE_PREFIX;
use super::{forward, Msg, OsWatcher, Sender, Touch};

const ACCESS_WRITTEN: notify::event::AccessKind =
    notify::event::AccessKind::Close(notify::event::AccessMode::Write);

fn handler(
    tx: Sender,
    overflow: Arc<AtomicBool>,
) -> impl FnMut(notify::Result<notify::Event>) + Send + 'static {
    move |res| {
        let msg = match res {
            Ok(ev) if ev.need_rescan() => Msg::Rescan("the OS event queue overflowed"),
            // Reads are not changes (and our own would feed back into re-reads).
            Ok(ev) if matches!(ev.kind, notify::EventKind::Access(a) if a != ACCESS_WRITTEN) => {
                return
            }
            Ok(ev) => {
                let mut paths = Vec::with_capacity(ev.paths.len());
                for p in ev.paths {
                    match p.file_name().and_then(|n| n.to_str()) {
                        Some(n) if n.starts_with(COOKIE_PREFIX) => {
                            let _ = forward(&tx, &overflow, Msg::Cookie(n.to_string()));
                        }
                        _ => paths.push(p),
                    }
                }
                if paths.is_empty() {
                    return;
                }
                Msg::Paths(paths, Touch::Changed)
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                Msg::Failed(e.to_string())
            }
            Err(e) => {
                tracing::warn!("file watcher: {e}");
                Msg::Rescan("the file watcher reported an error")
            }
        };
        let _ = forward(&tx, &overflow, msg);
    }
}

pub fn start(root: &Path, tx: Sender, overflow: Arc<AtomicBool>) -> std::io::Result<OsWatcher> {
    use notify::Watcher as _;
    let cfg = notify::Config::default().with_follow_symlinks(false);
    let start = || {
        let mut w = notify::RecommendedWatcher::new(handler(tx, overflow), cfg)?;
        w.watch(root, notify::RecursiveMode::Recursive)?;
        Ok::<_, notify::Error>(w)
    };
    start()
        .map(OsWatcher::Native)
        .map_err(|e| std::io::Error::other(e.to_string()))
}
