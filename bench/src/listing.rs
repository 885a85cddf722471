//! Listings over every session: `mobile-session --json sessions` streamed
//! to /dev/null (rows per second, and how much the daemon's and the
//! client's memory grow meanwhile), and how fast `apps` answers.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mobile_session_proto::Request;

use crate::{best_of, ms, report, Conn, Daemon};

/// Runs `cmd` to its end with stdout to /dev/null; its wall time and its
/// peak RSS in bytes.
fn run_measured(cmd: &mut Command) -> (Duration, u64) {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not reaped yet; both pointers are valid.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = t.elapsed();
    assert!(r == pid && status == 0, "{cmd:?} failed");
    std::mem::forget(child); // reaped above
    (took, usage.ru_maxrss as u64 * 1024)
}

pub fn bench(bin: &Path, sock: &Path, daemon: &Daemon, sessions: usize) {
    let cli = || {
        let mut c = Command::new(bin.join("mobile-session"));
        c.arg("--socket").arg(sock).arg("--json");
        c
    };
    // The client's own size, doing nothing much.
    let (_, client_base) = run_measured(cli().arg("status"));
    let before = daemon.rss_bytes();
    daemon.reset_peak();
    let mut best = Duration::MAX;
    let mut client_peak = 0;
    for _ in 0..2 {
        let (took, peak) = run_measured(cli().arg("sessions"));
        best = best.min(took);
        client_peak = client_peak.max(peak);
    }
    let daemon_growth = daemon.peak_bytes().saturating_sub(before);
    let client_growth = client_peak.saturating_sub(client_base);
    let rows_per_s = sessions as f64 / best.as_secs_f64();
    report(
        "`sessions --json` to /dev/null, rows/s / 200 000 (higher is better)",
        rows_per_s / 200_000.0,
        -1.0,
    );
    println!(
        "  {rows_per_s:.0} rows/s ({:.0} ms for {sessions} rows, best of 2)",
        ms(best)
    );
    let growth = (daemon_growth + client_growth) as f64 / 1048576.0;
    report(
        "RSS growth during `sessions --json` (daemon + client) / 64 MiB",
        growth / 64.0,
        1.0,
    );
    println!(
        "  daemon +{:.1} MiB, client +{:.1} MiB (peak {:.1} MiB)",
        daemon_growth as f64 / 1048576.0,
        client_growth as f64 / 1048576.0,
        client_peak as f64 / 1048576.0
    );
    let mut c = Conn::open(sock);
    let apps = best_of(5, || c.call(&Request::Apps));
    report("`apps` answer / 50 ms", ms(apps) / 50.0, 1.0);
    let (cli_apps, _) = run_measured(cli().arg("apps"));
    println!(
        "  {:.2} ms (request, best of 5); {:.1} ms as a command",
        ms(apps),
        ms(cli_apps)
    );
}
