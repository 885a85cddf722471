//! Talking to the service manager (systemd `Type=notify`, socket activation,
//! the capabilities the unit grants). Every call is a no-op when
//! `NOTIFY_SOCKET` / `LISTEN_FDS` are not set, or no capability was granted.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!("cannot notify the service manager: {e}");
    }
}

/// READY=1 with the session counts.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// RELOADING=1 with MONOTONIC_USEC, as `Type=notify-reload` requires.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog (half its timeout), if one is set.
/// As libsystemd's `sd_watchdog_enabled`: `WATCHDOG_USEC` set, and
/// `WATCHDOG_PID` either unset or ours.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC")
        .ok()?
        .parse()
        .ok()
        .filter(|u| *u > 0)?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    // Half the timeout, as systemd advises; never zero (a timer of zero
    // would spin).
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// The first socket passed by socket activation. Call it before any thread
/// starts: it reads and clears `LISTEN_PID`/`LISTEN_FDS`.
pub fn take_listen_fd() -> std::io::Result<Option<OwnedFd>> {
    let mut fds = sd_notify::listen_fds()?;
    // SAFETY: LISTEN_PID names this process, so the fd was handed to us
    // and nothing else in the process owns it.
    Ok(fds.next().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Keeps the capabilities the daemon was started with (the unit grants
/// `CAP_LEASE`, so leases work on the 4D server's files) from reaching the
/// programs it runs: the sign-in and push hooks. The ambient set, which an
/// exec hands on as it is, is cleared, and the inheritable set, which a
/// program with file capabilities could take up, emptied; the daemon keeps
/// its permitted and effective sets. Capabilities belong to a thread and a
/// new thread copies its creator's: call it before any thread starts.
#[cfg(target_os = "linux")]
pub fn keep_capabilities_from_children() -> std::io::Result<()> {
    use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
    // Fails before Linux 4.3, which has no ambient set to clear.
    rustix::thread::clear_ambient_capability_set()?;
    let mut sets = capabilities(None)?;
    if !sets.inheritable.is_empty() {
        sets.inheritable = CapabilitySet::empty();
        set_capabilities(None, sets)?;
    }
    Ok(())
}

/// Elsewhere no capability is handed on to a child.
#[cfg(not(target_os = "linux"))]
pub fn keep_capabilities_from_children() -> std::io::Result<()> {
    Ok(())
}
