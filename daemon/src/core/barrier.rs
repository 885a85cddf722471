//! The push barrier: how a push knows the disk view holds every change made
//! to the files before it was issued.

/// Implemented by a watcher that can confirm it has applied every change
/// queued before a point in time (the inotify watcher does, with a cookie
/// file: inotify reports events in order, so once the cookie's event is
/// applied, so is everything before it).
pub trait PushBarrier: Send + Sync {
    /// Blocks until every change completed before the call is in the disk
    /// view. False when that cannot be confirmed (in time); the push then
    /// rescans every file instead. Called without the write lock held: the
    /// watcher needs it to apply what it has queued.
    fn sync(&self) -> bool;
}
