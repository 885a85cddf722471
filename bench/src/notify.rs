//! Push notifications per second: `mobile-session notify --all` to 10 000
//! iOS sessions, sent by the daemon to the local APNs stand-in (HTTP/2
//! over TLS, certificate and provider token checked) over one connection.
//! `BENCH_ONLY_NOTIFY=1` runs this alone.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mobile_session_push_standin::{keys, ApnsStandIn, TestCa};

const SESSIONS: usize = 10_000;
const FOLDER: &str = "TEAM123456.com.bench.push";
const APP_ID: &str = "com.bench.push";
/// Notifications per second over one connection on a 2-core machine.
const GOAL: f64 = 5000.0;

fn session(id: &str, token: &str) -> String {
    use base64::Engine;
    let claims =
        format!("{{\"appNameID\":\"{APP_ID}\",\"id\":\"{id}\",\"teamID\":\"TEAM123456\"}}");
    let t = base64::engine::general_purpose::STANDARD_NO_PAD.encode(claims);
    serde_json::json!({
        "application": {"id": APP_ID, "name": "Bench", "version": "1.0"},
        "team": {"id": "TEAM123456"},
        "email": format!("user{id}@example.com"),
        "device": {"description": "iPhone", "os": "iOS", "id": format!("DEV-{id}"), "token": token},
        "session": {"id": id, "ip": "127.0.0.1"},
        "status": "accepted",
        "token": t,
    })
    .to_string()
}

pub fn bench(bin: &Path, dir: &Path) {
    let ca = TestCa::new();
    let key = keys::apns_key();
    let apns = ApnsStandIn::start(&ca, &key, "BENCHKEY01", "TEAM123456");
    let folder = dir.join("notify-data/MobileApps").join(FOLDER);
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..SESSIONS {
        let id = format!("{i:040x}");
        let token = format!("{i:064x}");
        std::fs::write(folder.join(&id), session(&id, &token)).unwrap();
    }
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.join("AuthKey_BENCHKEY01.p8"), &key.pem).unwrap();
    let config = dir.join("notify.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\nca_file = {:?}\napns_url = \"{}\"\n[notify.apps.\"{FOLDER}\"]\napns_key_file = {:?}\n",
            dir.join("ca.pem"),
            apns.url(),
            dir.join("AuthKey_BENCHKEY01.p8")
        ),
    )
    .unwrap();
    let sock = dir.join("notify.sock");
    let mut daemon = Command::new(bin.join("mobile-sessiond"))
        .arg("--data-dir")
        .arg(dir.join("notify-data"))
        .arg("--socket")
        .arg(&sock)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.join("notify-state"))
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .spawn()
        .expect("start mobile-sessiond");
    let notify = || {
        let t = Instant::now();
        let out = Command::new(bin.join("mobile-session"))
            .arg("--socket")
            .arg(&sock)
            .args([
                "--json",
                "notify",
                FOLDER,
                "--all",
                "--title",
                "Bench",
                "--body",
                "10 000 devices",
            ])
            .output()
            .expect("run mobile-session");
        (t.elapsed(), out)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ready = Command::new(bin.join("mobile-session"))
            .arg("--socket")
            .arg(&sock)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let (took, out) = notify();
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(
            reply["sent"].as_u64(),
            Some(SESSIONS as u64),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        times.push(took);
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(apns.delivered_count(), 5 * SESSIONS);
    times.sort();
    let rate = |d: Duration| SESSIONS as f64 / d.as_secs_f64();
    let (best, median) = (times[0], times[times.len() / 2]);
    println!(
        "{} notify --all to {SESSIONS} iOS sessions over {} connection(s): median {:.0}/s ({:.2} s), best {:.0}/s (goal ≥ {GOAL:.0}/s, command start to exit)",
        if rate(median) >= GOAL { "PASS" } else { "MISS" },
        apns.connections(),
        rate(median),
        median.as_secs_f64(),
        rate(best),
    );
}
