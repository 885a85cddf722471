//! Reads to try again: files and folders whose last read hit a transient
//! error (out of descriptors, EIO, …). Their last good reading is kept in
//! the disk view meanwhile; the retry task reads them again with backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Core, Retry};

const FIRST: Duration = Duration::from_millis(100);
const LAST: Duration = Duration::from_secs(30);

/// How long to wait after the `failures`-th failure in a row.
fn backoff(failures: u32) -> Duration {
    FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(LAST)
}

/// When each pending retry is due, and how many times it failed.
#[derive(Debug, Default)]
pub struct RetryQueue {
    pending: HashMap<Retry, (u32, Instant)>,
}

impl RetryQueue {
    /// Another failure of `what` at `now`: due again after a backoff that
    /// doubles from 100 ms up to 30 s.
    pub fn schedule(&mut self, what: Retry, now: Instant) {
        let (failures, due) = self.pending.entry(what).or_insert((0, now));
        *failures = failures.saturating_add(1);
        *due = now + backoff(*failures);
    }

    /// `what` was read fine.
    pub fn forget(&mut self, what: &Retry) {
        if !self.pending.is_empty() {
            self.pending.remove(what);
        }
    }

    /// Drops every pending retry but those in `still` (a rescan's failures:
    /// it read the rest fine), keeping their failure counts.
    pub fn keep_only(&mut self, still: &[Retry]) {
        if !self.pending.is_empty() {
            let still: std::collections::HashSet<&Retry> = still.iter().collect();
            self.pending.retain(|r, _| still.contains(r));
        }
    }

    /// What is due at `now`. Each stays pending (pushed back by its current
    /// backoff) until it is read fine or fails again.
    pub fn due(&mut self, now: Instant) -> Vec<Retry> {
        let mut out = Vec::new();
        for (what, (failures, due)) in &mut self.pending {
            if *due <= now {
                out.push(what.clone());
                *due = now + backoff(*failures);
            }
        }
        out
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|(_, due)| *due).min()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Reads again what is due, until `shutdown`: the task the daemon runs
/// beside the watcher. Idle, it wakes once a second.
pub async fn run(core: Arc<Core>, shutdown: CancellationToken) {
    loop {
        let now = Instant::now();
        let wait = core
            .next_retry()
            .map_or(Duration::from_secs(1), |due| {
                due.saturating_duration_since(now)
            })
            .min(Duration::from_secs(1));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let due = core.due_retries(Instant::now());
        if due.is_empty() {
            continue;
        }
        let c = core.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut txn = c.txn();
            for what in due {
                match what {
                    Retry::File(folder, name) => txn.refresh_file(&folder, &name),
                    Retry::Folder(folder) => txn.sync_folder(&folder),
                }
            }
            if txn.config().auto_push {
                txn.push();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_forgets() {
        let t0 = Instant::now();
        let mut q = RetryQueue::default();
        let f = Retry::File("A".into(), "abcd".into());
        q.schedule(f.clone(), t0);
        assert_eq!(q.next_due(), Some(t0 + FIRST));
        assert!(q.due(t0).is_empty());
        assert_eq!(q.due(t0 + FIRST), vec![f.clone()]);
        q.schedule(f.clone(), t0);
        assert_eq!(q.next_due(), Some(t0 + FIRST * 2));
        for _ in 0..40 {
            q.schedule(f.clone(), t0);
        }
        assert_eq!(q.next_due(), Some(t0 + LAST));
        q.forget(&f);
        assert!(q.is_empty());
    }

    #[test]
    fn a_rescan_keeps_only_its_own_failures() {
        let t0 = Instant::now();
        let mut q = RetryQueue::default();
        let (a, b) = (
            Retry::File("A".into(), "a".into()),
            Retry::Folder("B".into()),
        );
        q.schedule(a.clone(), t0);
        q.schedule(b.clone(), t0);
        q.keep_only(std::slice::from_ref(&b));
        assert_eq!(q.due(t0 + LAST), vec![b]);
    }
}
