//! Last seen on the `verify` hot path: two daemons of the same binary on
//! the same files, one recording last seen (the default) and one with
//! `last_seen = false`, driven by the same client loop, alternately, in one
//! run. Target: throughput with tracking ≥ 1/1.05 of without (0.952).
//!
//! Two loads: one token over and over (the throughput target's load: the
//! cell already holds this second, a load and a compare), and every
//! request another session of 10 000 (each verify swaps a cell, and queues
//! it once per flush).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mobile_session_proto::connection::encode;
use mobile_session_proto::Request;

use crate::{connect_async, cpu_seconds, frame, median_ratio, report, throughput, Conn, Target};

/// How many distinct sessions the spread load goes round.
const SPREAD: usize = 10_000;

struct Daemon {
    child: Child,
    sock: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, dir: &Path, data: &Path, name: &str, last_seen: bool) -> Self {
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, format!("last_seen = {last_seen}\n")).unwrap();
        let sock = dir.join(format!("{name}.sock"));
        let child = Command::new(bin.join("mobile-sessiond"))
            .arg("--data-dir")
            .arg(data)
            .arg("--socket")
            .arg(&sock)
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.join(format!("{name}-state")))
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start mobile-sessiond");
        let deadline = Instant::now() + Duration::from_secs(600);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Conn::open(&sock).call(&Request::Status);
        Self { child, sock }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn verify_frame(token: &str) -> Vec<u8> {
    frame(
        &encode(&Request::Verify {
            token: token.to_string(),
        })
        .unwrap(),
    )
}

/// Requests per second over `conns` connections, one request in flight on
/// each, each connection going round `requests` (answers read by their
/// length prefix: they differ in length).
fn spread_throughput(conns: usize, per_conn: usize, sock: &Path, requests: &[Vec<u8>]) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut streams = Vec::with_capacity(conns);
        for _ in 0..conns {
            streams.push(connect_async(sock).await);
        }
        let requests = std::sync::Arc::new(requests.to_vec());
        let t = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(c, mut s)| {
                let requests = requests.clone();
                tokio::spawn(async move {
                    let mut answer = vec![0u8; 256];
                    for i in 0..per_conn {
                        let req = &requests[(c * per_conn + i) % requests.len()];
                        s.write_all(req).await.unwrap();
                        let mut len = [0u8; 4];
                        s.read_exact(&mut len).await.unwrap();
                        let n = u32::from_be_bytes(len) as usize;
                        answer.resize(n, 0);
                        s.read_exact(&mut answer).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (conns * per_conn) as f64 / t.elapsed().as_secs_f64()
    })
}

pub fn bench(bin: &Path, dir: &Path, data: &Path, tokens: &[String]) {
    println!("# last seen on the verify path (last_seen = true vs false, same run)");
    let on = Daemon::start(bin, dir, data, "seen-on", true);
    let off = Daemon::start(bin, dir, data, "seen-off", false);
    let request = verify_frame(&tokens[tokens.len() / 3]);
    let answer_len = Conn::open(&on.sock).raw_round_trip(&request).len();
    let (ratio, with, without) = median_ratio(
        11,
        || throughput(50, 4000, Target::Daemon(&on.sock), &request, answer_len),
        || throughput(50, 4000, Target::Daemon(&off.sock), &request, answer_len),
    );
    println!("  one token: with {with:.0}/s, without {without:.0}/s");
    report(
        "verify throughput, last seen on / off (one token)",
        ratio,
        -0.952,
    );
    // The daemon's own CPU time per request: less at the mercy of what
    // else the machine runs than a rate.
    let cpu_per_request = |d: &Daemon| {
        let (u0, s0) = cpu_seconds(d.child.id());
        throughput(50, 10_000, Target::Daemon(&d.sock), &request, answer_len);
        let (u1, s1) = cpu_seconds(d.child.id());
        (u1 - u0 + s1 - s0) * 1e6 / 500_000.0
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with.push(cpu_per_request(&on));
        without.push(cpu_per_request(&off));
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "  daemon cpu per verify, best of 3: with {:.3} µs, without {:.3} µs",
        best(&with),
        best(&without)
    );
    let spread: Vec<Vec<u8>> = tokens
        .iter()
        .step_by((tokens.len() / SPREAD).max(1))
        .take(SPREAD)
        .map(|t| verify_frame(t))
        .collect();
    let (ratio, with, without) = median_ratio(
        11,
        || spread_throughput(50, 4000, &on.sock, &spread),
        || spread_throughput(50, 4000, &off.sock, &spread),
    );
    println!(
        "  {} tokens in turn: with {with:.0}/s, without {without:.0}/s",
        spread.len()
    );
    report(
        "verify throughput, last seen on / off (spread)",
        ratio,
        -0.952,
    );
}
