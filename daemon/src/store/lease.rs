//! Read leases (Linux `F_SETLEASE`): how a checked rewrite also sees a
//! writer that keeps the file open across it.
//!
//! A read lease can only be taken while nobody has the file open for
//! writing, and the kernel breaks it as soon as someone opens it for writing
//! (their `open` then waits until we release it: at most the rest of one
//! rewrite attempt — the edit, the temporary file's write and fsync, the
//! rename and the folder's fsync; the lease is let go before the file is
//! read back). So a rewrite that holds one from its read to its rename knows that
//! no writer was in the file meanwhile — including one that opened it before
//! and writes late, which no comparison of bytes can see in time.
//!
//! Leases need the file's owner or `CAP_LEASE` (root) and a local file
//! system; without one the rewrite still has its byte and inode checks.
//! The same lease, taken and let go at once, tells whether a writer has a
//! file open ([`Lease::probe`]): the watcher holds back what such a file
//! reads as meanwhile.
//! A broken lease is signalled with SIGIO, whose default action would end
//! the process: it is ignored (the daemon polls the lease instead).

use std::fs::File;
use std::time::Duration;

use crate::model::reconcile::Writer;

/// How long a rewrite waits for a writer that has the file open to close it.
const WAIT_FOR_WRITER: Duration = Duration::from_millis(200);

/// A read lease on an open file, released when dropped.
#[derive(Debug)]
pub struct Lease {
    file: File,
}

/// The outcome of trying to take a lease.
pub enum Taken {
    Lease(Lease),
    /// No lease here (not the owner, a file system without leases, not
    /// Linux): the file is handed back, to be read without one.
    Unavailable(File),
}

impl Lease {
    /// Takes a read lease on `file` (opened read-only), waiting a little
    /// for a writer that has it open to finish.
    #[cfg(target_os = "linux")]
    pub fn take(file: File) -> Taken {
        use std::os::fd::AsRawFd;
        ignore_sigio();
        let deadline = std::time::Instant::now() + WAIT_FOR_WRITER;
        loop {
            // SAFETY: fcntl on a descriptor we own.
            let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
            if rc == 0 {
                return Taken::Lease(Lease { file });
            }
            let busy = std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN);
            if !busy || std::time::Instant::now() >= deadline {
                return Taken::Unavailable(file);
            }
            // Someone has it open for writing: let them finish.
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn take(file: File) -> Taken {
        Taken::Unavailable(file)
    }

    /// Whether anyone has `file` (opened read-only) open for writing: a
    /// read lease is taken and let go at once. The kernel refuses one while
    /// a writer has the file open, so the answer is exact and costs two
    /// system calls, where scanning every process's descriptors would cost
    /// a walk of `/proc`. A writer opening the file meanwhile waits for
    /// the second call only. `Unknown` where no lease can be taken (not the
    /// owner, a file system without leases, not Linux).
    #[cfg(target_os = "linux")]
    pub fn probe(file: &File) -> Writer {
        use std::os::fd::AsRawFd;
        ignore_sigio();
        // SAFETY: fcntl on a descriptor we own.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        if rc == 0 {
            // SAFETY: as above; closing would release it too.
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
            return Writer::Closed;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => Writer::Open,
            _ => Writer::Unknown,
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn probe(_: &File) -> Writer {
        Writer::Unknown
    }

    /// The leased file, to read it.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// False once someone opened the file for writing since the lease was
    /// taken (the kernel is breaking it).
    pub fn intact(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on a descriptor we own.
            let rc = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLEASE) };
            rc == libc::F_RDLCK
        }
        #[cfg(not(target_os = "linux"))]
        {
            true
        }
    }
}

/// A broken lease is signalled with SIGIO, whose default action would end
/// the process.
#[cfg(target_os = "linux")]
fn ignore_sigio() {
    static IGNORE_SIGIO: std::sync::Once = std::sync::Once::new();
    IGNORE_SIGIO.call_once(|| {
        // SAFETY: installs SIG_IGN, no handler code runs.
        unsafe {
            libc::signal(libc::SIGIO, libc::SIG_IGN);
        }
    });
}

impl Drop for Lease {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on a descriptor we own; closing would release it too.
            unsafe {
                libc::fcntl(self.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK);
            }
        }
    }
}
