//! [`SeenCell`]: when a live session was last seen, kept in its record so
//! that `verify` records it with one relaxed atomic operation and no lookup.
//! The cell is a cache of recent sightings: `state::seen` drains the cells
//! it was told are dirty into its table (what listings read and what is
//! persisted), so a record replaced by a push loses nothing.

use std::sync::atomic::{AtomicU64, Ordering};

/// The low bit says "changed since it was last drained"; the rest is the
/// time in seconds since the Unix epoch.
const DIRTY: u64 = 1;

#[derive(Default)]
pub struct SeenCell(AtomicU64);

impl SeenCell {
    /// Records a sighting at `secs`. True when the cell was clean: the
    /// caller then queues it to be drained (once per drain, however many
    /// sightings). A sighting in the second already recorded costs a load.
    pub fn touch(&self, secs: u64) -> bool {
        let value = (secs << 1) | DIRTY;
        if self.0.load(Ordering::Relaxed) == value {
            return false;
        }
        self.0.swap(value, Ordering::Relaxed) & DIRTY == 0
    }

    /// The last sighting (seconds), and marks the cell clean. A sighting
    /// racing with this either is read here or leaves the cell dirty again
    /// and is queued anew.
    pub fn drain(&self) -> u64 {
        self.0.fetch_and(!DIRTY, Ordering::Relaxed) >> 1
    }

    /// The last sighting (seconds; 0 when never).
    pub fn secs(&self) -> u64 {
        self.0.load(Ordering::Relaxed) >> 1
    }
}

// The cell is not part of a session's content: records compare, clone and
// print as if it were not there (a clone starts unseen).
impl Clone for SeenCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for SeenCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SeenCell {}

impl std::fmt::Debug for SeenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeenCell({})", self.secs())
    }
}

/// Seconds since the Unix epoch now. On Linux from the coarse clock: a
/// read of the kernel's last tick (about 4 ns, against 30 for the precise
/// clock), which `verify` pays on every hit.
pub fn now_secs() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return u64::try_from(ts.tv_sec).unwrap_or(0);
        }
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_queued_once_per_drain() {
        let c = SeenCell::default();
        assert_eq!(c.secs(), 0);
        assert!(c.touch(100), "a clean cell asks to be queued");
        assert!(!c.touch(100) && !c.touch(101), "a dirty one does not");
        assert_eq!(c.drain(), 101);
        assert_eq!(c.secs(), 101);
        assert!(c.touch(101), "clean again after a drain");
        assert_eq!(c.drain(), 101);
        let copy = c.clone();
        assert_eq!(copy.secs(), 0);
        assert_eq!(copy, c);
    }

    #[test]
    fn the_coarse_clock_is_the_clock() {
        let before = now_ms() / 1000;
        let coarse = now_secs();
        let after = now_ms() / 1000;
        // A tick (a few ms) behind at most.
        assert!(
            before <= coarse + 1 && coarse <= after,
            "{before} {coarse} {after}"
        );
    }
}
