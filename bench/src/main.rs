//! The performance targets, each as a ratio against a reference run made in
//! the same process, on the same machine, moments apart:
//!
//! - verify round trip (1 connection) vs a raw ping-pong of the same bytes;
//! - verify throughput (50 connections, no pipelining) vs Redis `GET` over a
//!   Unix socket, driven by the same client loop (RESP), and vs the floor;
//! - full push of N files vs reading them single-threaded; incremental push
//!   after one change vs the full push;
//! - daemon RSS with N live sessions vs the files' bytes, just after start
//!   and after 10 and 50 full pushes (with the peak during them);
//! - p99 delay from a file write to its `watch` event, for a writer that
//!   closes the file and one that keeps it open (`visible.rs`);
//! - `mobile-session status` process time vs `redis-cli -s SOCK ping`.
//!
//! Run it with `bench/run` (release build, installs Redis if missing).
//! Usage: mobile-session-bench TARGET_DIR [SESSIONS]; with
//! `BENCH_ONLY_THROUGHPUT=1` only the verify/Redis throughput comparison
//! runs, with the CPU time each server spends per request; with
//! `BENCH_ONLY_ROUND_TRIP=1` only the round trip against its floor, with the
//! daemon's CPU time per round trip; with `BENCH_ONLY_NOTIFY=1` only the
//! push notifications per second to the local APNs stand-in (`notify.rs`);
//! with `BENCH_ONLY_VISIBLE=1` only how soon file changes show (`visible.rs`);
//! with `BENCH_ONLY_LAST_SEEN=1` only verify's throughput with last seen
//! recorded against without (`last_seen.rs`).

mod data;
mod last_seen;
mod listing;
mod notify;
mod summary;
mod visible;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mobile_session_proto::connection::{decode, encode};
use mobile_session_proto::{ClientHello, Request, Response, ServerHello};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = PathBuf::from(
        args.get(1)
            .expect("usage: mobile-session-bench TARGET_DIR [SESSIONS]"),
    );
    let sessions: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let only_throughput = std::env::var_os("BENCH_ONLY_THROUGHPUT").is_some();
    let dir = tempfile::tempdir().expect("tempdir");
    if std::env::var_os("BENCH_ONLY_NOTIFY").is_some() {
        notify::bench(&bin, dir.path());
        return;
    }
    if std::env::var_os("BENCH_ONLY_VISIBLE").is_some() {
        let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        visible::alone(&bin, dir.path(), n);
        return;
    }
    println!(
        "# mobile-sessiond benchmarks ({sessions} sessions, {} cores)",
        cores()
    );

    // BENCH_DATA=DIR keeps the data set there between runs (made once,
    // put back as generated at each start): 1 M files take minutes to write.
    let data =
        std::env::var_os("BENCH_DATA").map_or_else(|| dir.path().join("Data"), PathBuf::from);
    let (bytes, tokens) = data::prepare(&data, sessions);
    println!(
        "generated {sessions} session files, {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    if std::env::var_os("BENCH_ONLY_LAST_SEEN").is_some() {
        last_seen::bench(&bin, dir.path(), &data, &tokens);
        return;
    }

    // Floor for the push: read every file, single-threaded, page cache warm.
    let files = list_files(&data.join("MobileApps"));
    read_all(&files);
    let read_floor = best_of(3, || read_all(&files));

    let sock = dir.path().join("d.sock");
    let started = Instant::now();
    let mut daemon = Daemon::start(&bin, &data, &sock);
    let start = started.elapsed();
    if std::env::var_os("BENCH_ONLY_ROUND_TRIP").is_none() && !only_throughput {
        report(
            "daemon start (scan + first push) / single-threaded read of the files",
            start.as_secs_f64() / read_floor.as_secs_f64(),
            1.2,
        );
    }
    println!(
        "  start {:.0} ms (process start until `status` answers), read floor {:.0} ms",
        ms(start),
        ms(read_floor)
    );
    // CPU time says what the wall clock cannot on a busy machine: whether
    // the two cores were ours.
    let (su, ss) = cpu_seconds(daemon.child.id());
    let (fu0, fs0) = cpu_seconds(std::process::id());
    read_all(&files);
    let (fu1, fs1) = cpu_seconds(std::process::id());
    let read_cpu = (fu1 - fu0) + (fs1 - fs0);
    println!(
        "  (info) CPU: start user {su:.2} s + sys {ss:.2} s = {:.2}× the read's {read_cpu:.2} s",
        (su + ss) / read_cpu
    );

    if let Some(n) = std::env::var("BENCH_ONLY_VERIFIES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        // A fixed number of verifies over 50 connections, for a daemon run
        // under a profiler (its instructions per verify).
        let token = &tokens[tokens.len() / 3];
        let request = frame(
            &encode(&Request::Verify {
                token: token.clone(),
            })
            .unwrap(),
        );
        let answer_len = Conn::open(&sock).raw_round_trip(&request).len();
        let rate = throughput(50, n / 50, Target::Daemon(&sock), &request, answer_len);
        println!("{n} verifies over 50 connections: {rate:.0}/s");
        daemon.stop();
        return;
    }
    if std::env::var_os("BENCH_ONLY_START").is_some() {
        // Start, full push and the peak during 10 full pushes, alone (A/B runs).
        let mut c = Conn::open(&sock);
        let steady = daemon.rss_bytes();
        daemon.reset_peak();
        let (u0, s0) = cpu_seconds(daemon.child.id());
        let full = best_of(10, || c.call(&Request::Push { full: true }));
        let (u1, s1) = cpu_seconds(daemon.child.id());
        // The floor's own CPU time, single-threaded.
        let (fu0, fs0) = cpu_seconds(std::process::id());
        read_all(&files);
        let (fu1, fs1) = cpu_seconds(std::process::id());
        println!(
            "start {:.3}× read ({:.0} ms); full push {:.3}× read ({:.0} ms, best of 10); peak {:.3}× RSS ({:.1} MiB); read {:.0} ms",
            start.as_secs_f64() / read_floor.as_secs_f64(),
            ms(start),
            full.as_secs_f64() / read_floor.as_secs_f64(),
            ms(full),
            daemon.peak_bytes() as f64 / steady as f64,
            steady as f64 / 1048576.0,
            ms(read_floor)
        );
        println!(
            "cpu: a full push user {:.0} sys {:.0} ms (mean of 10); the read user {:.0} sys {:.0} ms",
            (u1 - u0) * 100.0,
            (s1 - s0) * 100.0,
            (fu1 - fu0) * 1000.0,
            (fs1 - fs0) * 1000.0
        );
        daemon.stop();
        return;
    }
    if std::env::var_os("BENCH_ONLY_ROUND_TRIP").is_some() {
        let token = &tokens[tokens.len() / 3];
        let request = frame(
            &encode(&Request::Verify {
                token: token.clone(),
            })
            .unwrap(),
        );
        let answer_len = Conn::open(&sock).raw_round_trip(&request).len();
        let floor_sock = dir.path().join("floor.sock");
        let _floor = spawn_floor(&floor_sock, request.len(), answer_len);
        let n = 20_000;
        let (ratio, ours, floor) = median_ratio(
            7,
            || time(|| round_trips(&sock, true, &request, answer_len, n)).as_secs_f64(),
            || time(|| round_trips(&floor_sock, false, &request, answer_len, n)).as_secs_f64(),
        );
        println!(
            "median: ours {:.1} µs, floor {:.1} µs, ratio {ratio:.3}",
            ours * 1e6 / n as f64,
            floor * 1e6 / n as f64
        );
        redis_round_trip(dir.path(), &sock, &floor_sock, &request, answer_len);
        let (u0, s0) = cpu_seconds(daemon.child.id());
        round_trips(&sock, true, &request, answer_len, 100_000);
        let (u1, s1) = cpu_seconds(daemon.child.id());
        println!(
            "daemon cpu per round trip: user {:.2} sys {:.2} µs",
            (u1 - u0) * 10.0,
            (s1 - s0) * 10.0
        );
        daemon.stop();
        return;
    }
    if only_throughput {
        let token = &tokens[tokens.len() / 3];
        let request = frame(
            &encode(&Request::Verify {
                token: token.clone(),
            })
            .unwrap(),
        );
        let answer_len = Conn::open(&sock).raw_round_trip(&request).len();
        let redis = Redis::start(dir.path()).expect("redis");
        let (ratio, ours, r) = median_ratio(
            7,
            || throughput(50, 4000, Target::Daemon(&sock), &request, answer_len),
            || throughput(50, 4000, Target::Redis(&redis.sock), &[], 0),
        );
        println!("median: ours {ours:.0}/s redis {r:.0}/s ratio {ratio:.3}");
        let switches = |pid: u32| -> u64 {
            let mut n = 0;
            for t in std::fs::read_dir(format!("/proc/{pid}/task"))
                .unwrap()
                .flatten()
            {
                let st = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
                for l in st.lines() {
                    if l.starts_with("voluntary_ctxt_switches")
                        || l.starts_with("nonvoluntary_ctxt_switches")
                    {
                        n += l
                            .split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0);
                    }
                }
            }
            n
        };
        let (a0, b0) = (switches(daemon.child.id()), switches(redis.child.id()));
        throughput(50, 10000, Target::Daemon(&sock), &request, answer_len);
        let a1 = switches(daemon.child.id());
        throughput(50, 10000, Target::Redis(&redis.sock), &[], 0);
        let b1 = switches(redis.child.id());
        println!(
            "context switches per request: ours {:.3}, redis {:.3}",
            (a1 - a0) as f64 / 500000.0,
            (b1 - b0) as f64 / 500000.0
        );
        let cpu = cpu_seconds;
        for _ in 0..2 {
            let (u0, s0) = cpu(daemon.child.id());
            throughput(50, 10000, Target::Daemon(&sock), &request, answer_len);
            let (u1, s1) = cpu(daemon.child.id());
            let (ru0, rs0) = cpu(redis.child.id());
            throughput(50, 10000, Target::Redis(&redis.sock), &[], 0);
            let (ru1, rs1) = cpu(redis.child.id());
            println!(
                "cpu per request: ours user {:.2} sys {:.2} µs; redis user {:.2} sys {:.2} µs",
                (u1 - u0) * 2.0,
                (s1 - s0) * 2.0,
                (ru1 - ru0) * 2.0,
                (rs1 - rs0) * 2.0
            );
        }
        daemon.stop();
        return;
    }
    // Memory in steady state: every full push re-reads and re-validates
    // every file; RSS must settle, not creep, and the pushes must not need
    // much more than what stays.
    let rss = daemon.rss_bytes();
    let budget = bytes as f64 * 1.5 + 20.0 * 1048576.0;
    let mut c = Conn::open(&sock);
    daemon.reset_peak();
    let mut after = Vec::new();
    for i in 1..=50 {
        c.call(&Request::Push { full: true });
        if i == 10 || i == 50 {
            after.push(daemon.rss_bytes());
        }
    }
    let peak = daemon.peak_bytes();
    let steady = after[1];
    report(
        "steady RSS (after 50 full pushes) / (1.5 × file bytes + 20 MiB)",
        steady as f64 / budget,
        1.0,
    );
    report(
        "peak RSS during 50 full pushes / steady RSS",
        peak as f64 / steady as f64,
        1.10,
    );
    println!(
        "  RSS {:.1} MiB at start, {:.1} MiB after 10, {:.1} MiB after 50; peak {:.1} MiB; {:.1} MiB of files",
        rss as f64 / 1048576.0,
        after[0] as f64 / 1048576.0,
        after[1] as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        bytes as f64 / 1048576.0
    );
    if std::env::var_os("BENCH_ONLY_MEMORY").is_some() {
        daemon.stop();
        return;
    }

    // Push: full vs reading the files; incremental vs full.
    let full = best_of(3, || c.call(&Request::Push { full: true }));
    report(
        "full push / single-threaded read of the files",
        full.as_secs_f64() / read_floor.as_secs_f64(),
        0.8,
    );
    println!(
        "  full push {:.0} ms, read floor {:.0} ms",
        ms(full),
        ms(read_floor)
    );
    let (u0, s0) = cpu_seconds(daemon.child.id());
    repeat(3, || c.call(&Request::Push { full: true }));
    let (u1, s1) = cpu_seconds(daemon.child.id());
    let push_cpu = ((u1 - u0) + (s1 - s0)) / 3.0;
    println!(
        "  (info) CPU: a full push {push_cpu:.2} s = {:.2}× the read's (mean of 3): on two free cores, {:.2}× its time",
        push_cpu / read_cpu,
        push_cpu / read_cpu / 2.0
    );
    let one = &files[files.len() / 2];
    let original = std::fs::read(one).unwrap();
    let mut incr = Duration::MAX;
    for round in 0..5 {
        let text = std::fs::read_to_string(one).unwrap();
        let flipped = if round % 2 == 0 {
            text.replace("\"accepted\"", "\"pending\"")
        } else {
            text.replace("\"pending\"", "\"accepted\"")
        };
        std::fs::write(one, flipped).unwrap();
        incr = incr.min(time(|| c.call(&Request::Push { full: false })));
    }
    std::fs::write(one, &original).unwrap();
    c.call(&Request::Push { full: false });
    report(
        "incremental push (1 change) / full push",
        incr.as_secs_f64() / full.as_secs_f64(),
        1.0 / 1000.0,
    );
    println!("  incremental push {:.2} ms", ms(incr));

    // Verify round trip vs a raw ping-pong of the same bytes.
    let token = &tokens[tokens.len() / 3];
    let request = frame(
        &encode(&Request::Verify {
            token: token.clone(),
        })
        .unwrap(),
    );
    let answer_len = {
        let mut s = Conn::open(&sock);
        s.raw_round_trip(&request).len()
    };
    let floor_sock = dir.path().join("floor.sock");
    let _floor = spawn_floor(&floor_sock, request.len(), answer_len);
    let n = 20_000;
    let (ratio, ours, floor) = median_ratio(
        7,
        || time(|| round_trips(&sock, true, &request, answer_len, n)).as_secs_f64(),
        || time(|| round_trips(&floor_sock, false, &request, answer_len, n)).as_secs_f64(),
    );
    report("verify round trip / raw ping-pong floor", ratio, 1.2);
    println!(
        "  median of 7 alternated rounds: {:.1} µs vs {:.1} µs per round trip",
        ours * 1e6 / n as f64,
        floor * 1e6 / n as f64
    );
    redis_round_trip(dir.path(), &sock, &floor_sock, &request, answer_len);

    // Throughput, 50 connections, one request in flight each.
    let per_conn = 4_000;
    let (_, ours, floor_ops) = median_ratio(
        3,
        || throughput(50, per_conn, Target::Daemon(&sock), &request, answer_len),
        || {
            throughput(
                50,
                per_conn,
                Target::Floor(&floor_sock),
                &request,
                answer_len,
            )
        },
    );
    println!("verify throughput, 50 connections: {ours:.0}/s (raw floor {floor_ops:.0}/s)");
    match Redis::start(dir.path()) {
        Some(redis) => {
            let (ratios, ours, redis_ops) = rounds(
                5,
                || throughput(50, per_conn, Target::Daemon(&sock), &request, answer_len),
                || throughput(50, per_conn, Target::Redis(&redis.sock), &[], 0),
            );
            let won = ratios.iter().filter(|r| **r >= 1.0).count();
            report(
                "verify throughput ≥ Redis GET: rounds won of 5 (higher is better)",
                won as f64,
                -4.0,
            );
            let mut sorted = ratios.clone();
            sorted.sort_by(f64::total_cmp);
            report(
                "verify throughput / Redis GET throughput, median of 5 (higher is better)",
                sorted[2],
                -1.0,
            );
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
            println!(
                "  rounds {}: median {ours:.0}/s vs Redis GET {redis_ops:.0}/s, same client loop",
                shown.join(" ")
            );
            // The same bytes as a verify: the token as key, an answer-sized value.
            let value = "v".repeat(answer_len.saturating_sub(4));
            let (get, n) = redis.set_sized(token, &value);
            let (ratio, _, sized) = median_ratio(
                5,
                || throughput(50, per_conn, Target::Daemon(&sock), &request, answer_len),
                || {
                    throughput(
                        50,
                        per_conn,
                        Target::RedisSized(&redis.sock, &get, n),
                        &[],
                        0,
                    )
                },
            );
            println!("  (info) vs Redis GET of a token-sized key and answer-sized value: {ratio:.3} ({sized:.0}/s)");
            if let Some(line) = redis.benchmark() {
                println!("  redis-benchmark -c 50 -t get: {line}");
            }
            // Alternated rounds of 10 each: a process start is what a busy
            // scheduler delays most.
            let (ratio, status, ping) = median_ratio(
                9,
                || {
                    let status = || {
                        run(Command::new(bin.join("mobile-session"))
                            .arg("--socket")
                            .arg(&sock)
                            .arg("status"))
                    };
                    time(|| repeat(10, status)).as_secs_f64()
                },
                || {
                    let ping = || {
                        run(Command::new("redis-cli")
                            .arg("-s")
                            .arg(&redis.sock)
                            .arg("ping"))
                    };
                    time(|| repeat(10, ping)).as_secs_f64()
                },
            );
            report(
                "`mobile-session status` / `redis-cli ping` (process start to exit)",
                ratio,
                0.5,
            );
            println!(
                "  median of 9 alternated rounds: {:.2} ms vs {:.2} ms",
                status * 100.0,
                ping * 100.0
            );
        }
        None => {
            println!("redis-server not found: Redis comparisons skipped (bench/run installs it)")
        }
    }

    listing::bench(&bin, &sock, &daemon, sessions);
    visible::bench(&bin, &sock, &data);

    daemon.stop();
    last_seen::bench(&bin, dir.path(), &data, &tokens);
    notify::bench(&bin, dir.path());
    summary::print(sessions);
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Prints one ratio and whether it meets its target (negative target:
/// "at least"), and keeps it for the summary table.
fn report(what: &str, ratio: f64, target: f64) {
    let (ok, goal) = if target < 0.0 {
        (ratio >= -target, format!("≥ {:.2}", -target))
    } else {
        (ratio <= target, format!("≤ {}", summary::shown(target)))
    };
    let verdict = if ok { "PASS" } else { "MISS" };
    println!(
        "{verdict} {what}: {} (target {goal})",
        summary::shown(ratio)
    );
    summary::record(what, ratio, &goal, verdict);
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n).map(|_| time(&mut f)).min().unwrap_or_default()
}

fn repeat(n: usize, mut f: impl FnMut()) {
    for _ in 0..n {
        f();
    }
}

fn run(cmd: &mut Command) {
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success());
}

fn list_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for app in std::fs::read_dir(root).unwrap().flatten() {
        for f in std::fs::read_dir(app.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out
}

fn read_all(files: &[PathBuf]) {
    let mut total = 0usize;
    for f in files {
        total += std::fs::read(f).map_or(0, |b| b.len());
    }
    assert!(total > 0);
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(bin: &Path, data: &Path, sock: &Path) -> Self {
        let child = Command::new(bin.join("mobile-sessiond"))
            .arg("--data-dir")
            .arg(data)
            .arg("--socket")
            .arg(sock)
            .arg("--state-dir")
            .arg(data.with_file_name("state"))
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("start mobile-sessiond");
        let deadline = Instant::now() + Duration::from_secs(600);
        while UnixStream::connect(sock).is_err() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The socket listens before the first scan ends: wait for an answer.
        Conn::open(sock).call(&Request::Status);
        Self { child }
    }

    fn rss_bytes(&self) -> u64 {
        self.status_kib("VmRSS:") * 1024
    }

    /// The highest RSS since the last `reset_peak`.
    fn peak_bytes(&self) -> u64 {
        self.status_kib("VmHWM:") * 1024
    }

    fn reset_peak(&self) {
        // "5" resets the peak RSS (Linux 4.0+).
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    fn status_kib(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    fn stop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Context for the round trip: Redis GET's own distance from the floor on
/// this machine, all three through the same async client on one connection.
fn redis_round_trip(dir: &Path, sock: &Path, floor_sock: &Path, request: &[u8], answer_len: usize) {
    let Some(redis) = Redis::start(dir) else {
        return;
    };
    let one = |t: Target<'_>| 1e6 / throughput(1, 20_000, t, request, answer_len);
    let (ours, redis, floor) = (
        one(Target::Daemon(sock)),
        one(Target::Redis(&redis.sock)),
        one(Target::Floor(floor_sock)),
    );
    println!(
        "  (info) async client, 1 connection: ours {ours:.1} µs ({:.3}× floor), Redis GET {redis:.1} µs ({:.3}× floor), floor {floor:.1} µs",
        ours / floor,
        redis / floor
    );
}

/// The user and system CPU seconds `pid` has used so far.
fn cpu_seconds(pid: u32) -> (f64, f64) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = st.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks = |i: usize| f[i].parse::<f64>().unwrap() / 100.0;
    (ticks(11), ticks(12))
}

/// A handshaken daemon connection with blocking I/O.
struct Conn {
    s: UnixStream,
}

impl Conn {
    fn open(sock: &Path) -> Self {
        let mut s = UnixStream::connect(sock).expect("connect to the daemon");
        s.write_all(&frame(&encode(&ClientHello::current()).unwrap()))
            .unwrap();
        let body = read_frame(&mut s);
        let _: ServerHello = decode(&body).unwrap();
        Self { s }
    }

    fn call(&mut self, req: &Request) {
        self.s.write_all(&frame(&encode(req).unwrap())).unwrap();
        if let Response::Error(e) = decode::<Response>(&read_frame(&mut self.s)).unwrap() {
            panic!("{e:?}");
        }
    }

    fn raw_round_trip(&mut self, request: &[u8]) -> Vec<u8> {
        self.s.write_all(request).unwrap();
        frame(&read_frame(&mut self.s))
    }
}

/// Open connections, as the daemon counts them (this one included).
fn connections(sock: &Path) -> u64 {
    let mut c = Conn::open(sock);
    c.s.write_all(&frame(&encode(&Request::Status).unwrap()))
        .unwrap();
    match decode::<Response>(&read_frame(&mut c.s)).unwrap() {
        Response::Status(s) => s.connections,
        other => panic!("{other:?}"),
    }
}

fn read_frame(s: &mut UnixStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    body
}

/// The floor: a server that reads `req_len` bytes and writes `ans_len`
/// bytes back, one thread per connection, nothing else.
fn spawn_floor(path: &Path, req_len: usize, ans_len: usize) -> std::thread::JoinHandle<()> {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut req = vec![0u8; req_len];
                let ans = vec![7u8; ans_len];
                while s.read_exact(&mut req).is_ok() {
                    if s.write_all(&ans).is_err() {
                        break;
                    }
                }
            });
        }
    })
}

fn round_trips(sock: &Path, daemon: bool, request: &[u8], answer_len: usize, n: usize) {
    let mut s = if daemon {
        Conn::open(sock).s
    } else {
        UnixStream::connect(sock).unwrap()
    };
    let mut ans = vec![0u8; answer_len];
    for _ in 0..n {
        s.write_all(request).unwrap();
        s.read_exact(&mut ans).unwrap();
    }
}

/// What a throughput client talks to.
#[derive(Clone, Copy)]
enum Target<'a> {
    Daemon(&'a Path),
    Floor(&'a Path),
    Redis(&'a Path),
    /// Redis GET of a token-sized key holding an answer-sized value.
    RedisSized(&'a Path, &'a [u8], usize),
}

/// A handshaken daemon connection for a Tokio event loop.
async fn connect_async(sock: &Path) -> tokio::net::UnixStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::UnixStream::connect(sock).await.unwrap();
    s.write_all(&frame(&encode(&ClientHello::current()).unwrap()))
        .await
        .unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    let _: ServerHello = decode(&body).unwrap();
    s
}

/// Requests per second over `conns` connections, one request in flight on
/// each, driven like redis-benchmark: one client thread, an event loop.
fn throughput(
    conns: usize,
    per_conn: usize,
    target: Target<'_>,
    request: &[u8],
    answer_len: usize,
) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const GET: &[u8] = b"*2\r\n$3\r\nGET\r\n$4\r\nbkey\r\n";
    // Redis answers "$8\r\naccepted\r\n".
    const GET_ANSWER: usize = 14;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut streams = Vec::with_capacity(conns);
        for _ in 0..conns {
            let (path, hello) = match target {
                Target::Daemon(p) => (p, true),
                Target::Floor(p) | Target::Redis(p) | Target::RedisSized(p, _, _) => (p, false),
            };
            let s = if hello {
                connect_async(path).await
            } else {
                tokio::net::UnixStream::connect(path).await.unwrap()
            };
            streams.push(s);
        }
        let (req, ans_len) = match target {
            Target::Redis(_) => (GET.to_vec(), GET_ANSWER),
            Target::RedisSized(_, get, n) => (get.to_vec(), n),
            _ => (request.to_vec(), answer_len),
        };
        let t = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|mut s| {
                let req = req.clone();
                tokio::spawn(async move {
                    let mut ans = vec![0u8; ans_len];
                    for _ in 0..per_conn {
                        s.write_all(&req).await.unwrap();
                        s.read_exact(&mut ans).await.unwrap();
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

/// The ratio of each of `n` rounds, the two sides measured alternately,
/// with the median of each side.
fn rounds(
    n: usize,
    mut ours: impl FnMut() -> f64,
    mut reference: impl FnMut() -> f64,
) -> (Vec<f64>, f64, f64) {
    let (mut each, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (x, y) = (ours(), reference());
        each.push(x / y);
        a.push(x);
        b.push(y);
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    (each, a[n / 2], b[n / 2])
}

/// Median of `rounds` ratios, the two sides measured alternately so that
/// a noisy moment hits both.
fn median_ratio(
    rounds: usize,
    mut ours: impl FnMut() -> f64,
    mut reference: impl FnMut() -> f64,
) -> (f64, f64, f64) {
    let mut rs = Vec::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let x = ours();
        let y = reference();
        rs.push(x / y);
        a.push(x);
        b.push(y);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|p, q| p.total_cmp(q));
        v[v.len() / 2]
    };
    (med(&mut rs), med(&mut a), med(&mut b))
}

struct Redis {
    child: Child,
    sock: PathBuf,
}

impl Redis {
    fn start(dir: &Path) -> Option<Self> {
        let sock = dir.join("redis.sock");
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--unixsocket",
            ])
            .arg(&sock)
            .args(["--unixsocketperm", "700"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&sock).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut s = UnixStream::connect(&sock).ok()?;
        s.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nbkey\r\n$8\r\naccepted\r\n")
            .ok()?;
        let mut ok = [0u8; 5];
        s.read_exact(&mut ok).ok()?;
        Some(Self { child, sock })
    }

    /// Stores `value` under `key`; returns the GET request and its answer length.
    fn set_sized(&self, key: &str, value: &str) -> (Vec<u8>, usize) {
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        let set = format!("*3\r\n$3\r\nSET\r\n{}{}", bulk(key), bulk(value));
        let mut s = UnixStream::connect(&self.sock).unwrap();
        s.write_all(set.as_bytes()).unwrap();
        let mut ok = [0u8; 5];
        s.read_exact(&mut ok).unwrap();
        let get = format!("*2\r\n$3\r\nGET\r\n{}", bulk(key)).into_bytes();
        (get, bulk(value).len())
    }

    /// redis-benchmark's own figure, for reference.
    fn benchmark(&self) -> Option<String> {
        let out = Command::new("redis-benchmark")
            .arg("-s")
            .arg(&self.sock)
            .args(["-c", "50", "-n", "200000", "-t", "get", "-q"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.split('\r')
            .rfind(|l| l.contains("requests per second"))
            .map(|l| l.trim().to_string())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
