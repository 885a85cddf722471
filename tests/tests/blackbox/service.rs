//! Service-manager integration: sd_notify readiness, reload, stop and
//! watchdog; socket activation; the shipped systemd units and launchd plist.

use crate::common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};

/// A NOTIFY_SOCKET the test reads, as systemd would.
struct Notify {
    sock: UnixDatagram,
    path: String,
}

impl Notify {
    fn new(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        Self {
            sock,
            path: path.to_str().unwrap().to_string(),
        }
    }

    fn next(&self) -> String {
        let mut buf = vec![0u8; 4096];
        let n = read_past_signals(|| self.sock.recv(&mut buf))
            .expect("a notification before the deadline");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Skips messages until one contains `needle`.
    fn expect(&self, needle: &str) -> String {
        loop {
            let m = self.next();
            if m.lines().any(|l| l == needle || l.starts_with(needle)) {
                return m;
            }
        }
    }
}

#[test]
fn ready_reloading_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::new(dir.path());
    let mut d = Daemon::start_with(Opts {
        env: vec![("NOTIFY_SOCKET".into(), notify.path.clone())],
        ..Default::default()
    });
    let ready = notify.expect("READY=1");
    assert!(ready.contains("STATUS=3 live, 3 on disk"), "{ready}");
    // READY=1 is sent only once the socket answers (it does, right now).
    d.ok(&["status"]);

    std::fs::remove_file(d.file(ANDROID, ANDROID_ID)).unwrap();
    d.signal(libc::SIGHUP);
    let reloading = notify.expect("RELOADING=1");
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {reloading}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    let ready = notify.expect("READY=1");
    assert!(
        ready.contains("STATUS=2 live"),
        "the reload pushed: {ready}"
    );

    d.signal(libc::SIGTERM);
    notify.expect("STOPPING=1");
    assert!(d.wait_exit().success());
}

#[test]
fn watchdog_pings_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::new(dir.path());
    let _d = Daemon::start_with(Opts {
        env: vec![
            ("NOTIFY_SOCKET".into(), notify.path.clone()),
            ("WATCHDOG_USEC".into(), "200000".into()),
        ],
        ..Default::default()
    });
    notify.expect("READY=1");
    notify.expect("WATCHDOG=1");
    notify.expect("WATCHDOG=1");
}

#[test]
fn socket_activation_uses_the_passed_socket_and_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("Data");
    copy_tree(&examples(), &data);
    let sock = dir.path().join("activated.sock");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "admin_group = \"adm\"\nreader_group = \"nogroup\"\n",
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    // systemd-socket-activate listens, then execs the daemon on the first
    // connection with LISTEN_FDS=1 (fd 3) and LISTEN_PID set.
    let mut child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&sock)
        .arg(daemon_bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        // A path nobody binds: the daemon must use fd 3, not this.
        .arg("--socket")
        .arg(dir.path().join("unused.sock"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd) is needed; .ci/run installs it");
    // The activator creates the file before it listens: wait for the
    // listening socket itself, or a first connection may be refused.
    wait_until("the activator listens", || listening(&sock));
    let cli = |args: &[&str]| {
        Command::new(client_bin())
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&["--json", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["pid"],
        child.id(),
        "the activator exec()s the daemon"
    );
    assert_eq!(status["live"], 3);
    assert!(!dir.path().join("unused.sock").exists());
    // The socket keeps the group the service manager gave it, and both
    // configured groups get an ACL entry on it.
    let mut named = acl_groups(&sock).expect("ACL entries on the handed socket");
    named.sort_unstable();
    let mut both = vec![gid_of("adm"), gid_of("nogroup")];
    both.sort_unstable();
    assert_eq!(named, both);
    // SIGTERM: clean exit, and the socket (systemd's) stays.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut st = None;
    wait_until("the activated daemon exits", || {
        st = child.try_wait().unwrap();
        st.is_some()
    });
    assert!(st.unwrap().success());
    assert!(sock.exists(), "an activated socket is not unlinked");
}

/// Whether a Unix socket bound at `path` is listening, from the kernel's
/// table (`/proc/net/unix`), without connecting (which would activate it).
fn listening(path: &Path) -> bool {
    // __SO_ACCEPTCON in the Flags column marks a listening socket.
    const ACCEPTCON: u32 = 0x0001_0000;
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return path.exists();
    };
    let path = path.to_string_lossy();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 8
            && fields[7] == path
            && u32::from_str_radix(fields[3], 16).is_ok_and(|flags| flags & ACCEPTCON != 0)
    })
}

fn packaging() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging")
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let root = packaging().join("systemd");
    for unit in ["mobile-sessiond.service", "mobile-sessiond.socket"] {
        let text = std::fs::read_to_string(root.join(unit)).unwrap();
        // systemd-analyze checks that ExecStart's binary exists: use ours.
        let text = text.replace("/usr/bin/mobile-sessiond", daemon_bin().to_str().unwrap());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let service = std::fs::read_to_string(root.join("mobile-sessiond.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=",
        "ConfigurationDirectory=mobile-sessiond",
        "StateDirectory=mobile-sessiond",
        "RuntimeDirectory=mobile-sessiond",
        "LimitNOFILE=65536",
        "RestrictAddressFamilies=AF_UNIX",
    ] {
        assert!(service.contains(line), "the unit lacks {line}");
    }
    // The data dir is the config file's business only.
    let settings: String = service
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!settings.contains("--data-dir") && !settings.contains("ReadWritePaths="));
    let socket = std::fs::read_to_string(root.join("mobile-sessiond.socket")).unwrap();
    for line in [
        "SocketGroup=mobile-sessiond",
        "SocketMode=0660",
        "DirectoryMode=0755",
    ] {
        assert!(socket.contains(line), "the socket unit lacks {line}");
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("mobile-sessiond.service"))
        .arg(dir.path().join("mobile-sessiond.socket"))
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed; .ci/run installs it");
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}",
        stderr(&out)
    );
    // And it does reject a broken unit, so the check means something.
    std::fs::write(
        dir.path().join("broken.service"),
        "[Service]\nExecStart=/nonexistent/binary\n",
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("broken.service"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `systemd-analyze security` of `unit_text` installed into a temp root:
/// (passed the 2.0 threshold, overall exposure).
fn security(unit_text: &str) -> (bool, f64) {
    let (passed, exposure, _) = security_report(unit_text, None);
    (passed, exposure)
}

/// The same, with a drop-in, and the whole report.
fn security_report(unit_text: &str, drop_in: Option<&str>) -> (bool, f64, String) {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join("mobile-sessiond.service"), unit_text).unwrap();
    if let Some(text) = drop_in {
        let dir = units.join("mobile-sessiond.service.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("override.conf"), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(format!("--root={}", root.path().display()))
        .arg("mobile-sessiond.service")
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed; .ci/run installs it");
    let text = stdout(&out);
    let exposure = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for mobile-sessiond.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}\n{}", stderr(&out)));
    (out.status.success(), exposure, text)
}

/// The settings of an ini text, without blank lines and comments.
fn ini_settings(ini: &str) -> Vec<String> {
    ini.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The first ```ini block after `heading` in a Markdown file.
fn ini_block(markdown: &str, heading: &str) -> String {
    let after = markdown
        .split_once(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"))
        .1;
    let block = after.split_once("```ini\n").expect("an ini block").1;
    block.split_once("```").unwrap().0.to_string()
}

#[test]
fn the_documented_drop_in_gives_the_sign_in_hook_the_network() {
    let unit =
        std::fs::read_to_string(packaging().join("systemd/mobile-sessiond.service")).unwrap();
    let docs = std::fs::read_to_string(packaging().join("README.md")).unwrap();
    let drop_in = ini_block(&docs, "### The sign-in hook");
    let (_, _, before) = security_report(&unit, None);
    let (_, _, after) = security_report(&unit, Some(&drop_in));
    for (setting, sandboxed, relaxed) in [
        (
            "PrivateNetwork=",
            "no access to the host's network",
            "has access to the host's network",
        ),
        (
            "RestrictAddressFamilies=~AF_(INET|INET6)",
            "cannot allocate Internet sockets",
            "may allocate Internet sockets",
        ),
        (
            "IPAddressDeny=",
            "blocks all IP address ranges",
            "does not define an IP address allow list",
        ),
        (
            "MemoryDenyWriteExecute=",
            "cannot create writable executable",
            "may create writable executable",
        ),
    ] {
        let line = |report: &str| {
            report
                .lines()
                .find(|l| l.contains(setting))
                .unwrap_or_else(|| panic!("no {setting} in:\n{report}"))
                .to_string()
        };
        assert!(line(&before).contains(sandboxed), "{}", line(&before));
        assert!(line(&after).contains(relaxed), "{}", line(&after));
    }
    // The README shows the same settings.
    let readme = std::fs::read_to_string(packaging().join("../README.md")).unwrap();
    assert_eq!(
        ini_settings(&ini_block(&readme, "## Sign-in")),
        ini_settings(&drop_in)
    );
}

#[test]
fn the_notify_drop_in_opens_outbound_internet_and_stays_below_exposure_2() {
    let unit =
        std::fs::read_to_string(packaging().join("systemd/mobile-sessiond.service")).unwrap();
    let drop_in = std::fs::read_to_string(packaging().join("systemd/notify.conf")).unwrap();
    let (passed, exposure, report) = security_report(&unit, Some(&drop_in));
    assert!(passed && exposure <= 2.0, "exposure {exposure}:\n{report}");
    let line = |setting: &str| {
        report
            .lines()
            .find(|l| l.contains(setting))
            .unwrap_or_else(|| panic!("no {setting} in:\n{report}"))
            .to_string()
    };
    assert!(line("PrivateNetwork=").contains("has access to the host's network"));
    assert!(
        line("RestrictAddressFamilies=~AF_(INET|INET6)").contains("may allocate Internet sockets")
    );
    // The docs show the same settings as the shipped file.
    let docs = std::fs::read_to_string(packaging().join("README.md")).unwrap();
    assert_eq!(
        ini_settings(&ini_block(&docs, "### Push notifications")),
        ini_settings(&drop_in)
    );
}

#[test]
fn the_service_is_hardened_below_exposure_2() {
    let unit =
        std::fs::read_to_string(packaging().join("systemd/mobile-sessiond.service")).unwrap();
    let (passed, exposure) = security(&unit);
    assert!(passed && exposure <= 2.0, "exposure {exposure}");
    // The same unit without its hardening fails the threshold: the check bites.
    let bare: String = unit
        .lines()
        .take_while(|l| !l.starts_with("# Hardening."))
        .map(|l| format!("{l}\n"))
        .collect();
    let (passed, exposure) = security(&bare);
    assert!(!passed && exposure > 2.0, "exposure {exposure}");
}

fn plist(name: &str) -> plist::Dictionary {
    let v = plist::Value::from_file(packaging().join("launchd").join(name))
        .expect("a valid property list");
    v.into_dictionary().expect("a dictionary")
}

#[test]
fn launchd_plist_is_well_formed() {
    let d = plist("org.mobile-sessiond.plist");
    assert_eq!(
        d.get("Label").and_then(|l| l.as_string()),
        Some("org.mobile-sessiond")
    );
    assert_eq!(d.get("RunAtLoad").and_then(|b| b.as_boolean()), Some(true));
    let keep = d
        .get("KeepAlive")
        .and_then(|k| k.as_dictionary())
        .expect("KeepAlive dict");
    assert_eq!(
        keep.get("SuccessfulExit").and_then(|b| b.as_boolean()),
        Some(false)
    );
    assert_eq!(
        d.get("UserName").and_then(|u| u.as_string()),
        Some("_mobilesessiond"),
        "not root"
    );
    let args: Vec<&str> = d
        .get("ProgramArguments")
        .and_then(|a| a.as_array())
        .unwrap()
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect();
    assert!(args[0].ends_with("/mobile-sessiond"));
    // The data dir comes from the config file, as under systemd.
    assert!(args.contains(&"--config") && args.contains(&"--socket"));
    assert!(!args.contains(&"--data-dir"));
    assert!(args.contains(&"/var/run/mobile-sessiond/mobile-sessiond.sock"));
    // The daemon's user has no home to keep its state in: the notes make
    // the folder the plist names.
    let state = args
        .iter()
        .position(|a| *a == "--state-dir")
        .map(|i| args[i + 1]);
    let notes = std::fs::read_to_string(packaging().join("README.md")).unwrap();
    assert!(state.is_some_and(|s| notes.contains(&format!("-m 0700 {s}"))));
    assert!(
        !args
            .iter()
            .any(|a| a.contains("daemon") || a.contains("fork")),
        "launchd needs the foreground process"
    );
    let log = d
        .get("StandardErrorPath")
        .and_then(|p| p.as_string())
        .expect("a log file");
    let readme = std::fs::read_to_string(packaging().join("README.md")).unwrap();
    assert!(
        readme.contains("/etc/newsyslog.d/mobile-sessiond.conf") && readme.contains(log),
        "the notes say how to rotate {log}"
    );
    let rundir = plist("org.mobile-sessiond.rundir.plist");
    assert_eq!(
        rundir.get("Label").and_then(|l| l.as_string()),
        Some("org.mobile-sessiond.rundir")
    );
}
