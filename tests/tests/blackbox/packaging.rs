//! What ships: the Debian package's asset list names every file a system
//! install needs (binaries, units, man pages, completions, the conffile),
//! and the default config file is one the real daemon accepts.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `(source, destination)` of each asset of `[package.metadata.deb]`.
fn deb_assets() -> (toml::Table, Vec<(String, String)>) {
    let manifest = repo().join("packaging/deb/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let deb = doc["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone();
    let assets = deb["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let a = a.as_array().expect("[source, destination, mode]");
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (deb, assets)
}

/// Where `file` (a path under target/release/ or relative to packaging/deb)
/// lands, if an asset covers it: an exact source, or a `dir/*.ext` glob.
fn destination(assets: &[(String, String)], file: &str) -> Option<String> {
    let name = file.rsplit('/').next().unwrap_or(file);
    assets.iter().find_map(|(src, dest)| {
        let covered = src == file
            || src.split_once('*').is_some_and(|(dir, ext)| {
                file.starts_with(dir) && file.ends_with(ext) && !file[dir.len()..].contains('/')
            });
        covered.then(|| match dest.ends_with('/') {
            true => format!("{dest}{name}"),
            false => dest.clone(),
        })
    })
}

#[test]
fn the_package_lists_every_file_that_must_ship() {
    let (deb, assets) = deb_assets();
    assert_eq!(deb["name"].as_str(), Some("mobile-sessiond"));
    let dest =
        |file: &str| destination(&assets, file).unwrap_or_else(|| panic!("no asset ships {file}"));
    assert_eq!(
        dest("target/release/mobile-sessiond"),
        "usr/bin/mobile-sessiond"
    );
    assert_eq!(
        dest("target/release/mobile-session"),
        "usr/bin/mobile-session"
    );
    assert_eq!(
        dest("../systemd/mobile-sessiond.service"),
        "usr/lib/systemd/system/mobile-sessiond.service"
    );
    assert_eq!(
        dest("../systemd/mobile-sessiond.socket"),
        "usr/lib/systemd/system/mobile-sessiond.socket"
    );
    assert_eq!(
        dest("../systemd/mobile-sessiond.sysusers.conf"),
        "usr/lib/sysusers.d/mobile-sessiond.conf"
    );
    assert_eq!(
        dest("../systemd/mobile-sessiond.tmpfiles.conf"),
        "usr/lib/tmpfiles.d/mobile-sessiond.conf"
    );
    // The push-notification drop-in ships as a document, not in force.
    assert_eq!(
        dest("../systemd/notify.conf"),
        "usr/share/doc/mobile-sessiond/notify.conf"
    );
    // Under /etc, hence a conffile: an admin's edits survive upgrades.
    assert_eq!(dest("../config.toml"), "etc/mobile-sessiond/config.toml");

    // Every man page and completion the build script generates is listed,
    // under the name and folder man(1) and the shells look for.
    let gen = tempfile::tempdir().unwrap();
    let man_dir = gen.path().join("man");
    let out = Command::new(client_bin())
        .arg("man")
        .arg("--out-dir")
        .arg(&man_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut pages: Vec<String> = std::fs::read_dir(&man_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert!(pages.len() > 10, "{pages:?}");
    for page in &pages {
        let section = page.rsplit('.').next().unwrap();
        assert_eq!(
            dest(&format!("target/release/man/{page}")),
            format!("usr/share/man/man{section}/{page}")
        );
    }
    assert!(pages.contains(&"mobile-sessiond.8".to_string()));
    let build = std::fs::read_to_string(repo().join("packaging/deb/build")).unwrap();
    for (shell, file, want) in [
        (
            "bash",
            "mobile-session.bash",
            "usr/share/bash-completion/completions/mobile-session",
        ),
        (
            "zsh",
            "_mobile-session",
            "usr/share/zsh/vendor-completions/_mobile-session",
        ),
        (
            "fish",
            "mobile-session.fish",
            "usr/share/fish/vendor_completions.d/mobile-session.fish",
        ),
    ] {
        assert!(
            build.contains(&format!(
                "completions {shell} > \"$out/completions/{file}\""
            )),
            "packaging/deb/build does not write {file}"
        );
        assert_eq!(dest(&format!("target/release/completions/{file}")), want);
    }
    assert!(build.contains("man --out-dir \"$out/man\""));

    // Every file taken from the repository exists.
    for (src, _) in &assets {
        if !src.starts_with("target/") {
            let p = repo().join("packaging/deb").join(src);
            assert!(p.is_file(), "{} is missing", p.display());
        }
    }
    let scripts = repo()
        .join("packaging/deb")
        .join(deb["maintainer-scripts"].as_str().unwrap());
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(postinst.contains("systemd-sysusers") && postinst.contains("#DEBHELPER#"));
    let license = deb["license-file"].as_array().unwrap()[0].as_str().unwrap();
    assert!(repo().join("packaging/deb").join(license).is_file());
}

#[test]
fn the_default_config_is_one_the_daemon_accepts() {
    // The packaged /etc/mobile-sessiond/config.toml, with its data_dir
    // overridden by the flag the test harness passes.
    let config = std::fs::read_to_string(repo().join("packaging/config.toml")).unwrap();
    assert!(
        config.contains("\ndata_dir = "),
        "data_dir is set, not commented out"
    );
    let d = Daemon::start_with(Opts {
        config: Some(config.clone()),
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["live"], 3);
    drop(d);

    // Every key is documented, and the defaults shown commented out are
    // values the daemon accepts (its config refuses unknown keys): the file
    // with them uncommented starts a daemon just the same. The examples
    // (groups that need not exist here, the per-app tables) stay commented.
    let top = config
        .split("\n# Per-app overrides")
        .next()
        .unwrap()
        .to_string();
    let mut uncommented = String::new();
    let mut keys = Vec::new();
    for line in top.lines() {
        let setting = line.strip_prefix("# ").filter(|l| {
            l.split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        });
        let line = match setting {
            Some(l) if !l.starts_with("admin_group") && !l.starts_with("reader_group") => l,
            _ => line,
        };
        if let Some((key, _)) = line.split_once(" = ") {
            keys.push(key.trim_start_matches("# ").to_string());
        }
        uncommented.push_str(line);
        uncommented.push('\n');
    }
    for key in [
        "data_dir",
        "socket",
        "admin_group",
        "reader_group",
        "auto_push",
        "watcher",
        "settle_ms",
        "poll_interval_ms",
        "watch_queue",
        "write_grace_ms",
        "max_connections",
        "idle_timeout_ms",
        "session_id",
        "file_mode",
        "max_hooks",
        "hook",
        "hook_timeout_ms",
        "hook_env",
        "sign_in",
        "allow_email_domains",
        "accept_email_domains",
        "verify",
        "ca_file",
        "apns_url",
        "fcm_url",
        "state_dir",
        "last_seen",
        "history_max_bytes",
        "on_push",
        "on_push_timeout_ms",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} is not documented");
    }
    // The per-app push credentials are documented in a commented example.
    for key in [
        "apns_key_file",
        "apns_key_id",
        "apns_team_id",
        "apns_environment",
        "fcm_service_account",
        "fcm_project_id",
    ] {
        assert!(
            config.contains(&format!("\n# {key} = ")),
            "{key} is not documented"
        );
    }
    let d = Daemon::start_with(Opts {
        config: Some(uncommented),
        ..Default::default()
    });
    assert_eq!(d.json(&["status"])["live"], 3);
}

/// Runs a maintainer script with `args` and nothing but stubs on its PATH
/// (so no real user, override or unit is touched). Each stub logs its
/// arguments to `log`; `dpkg-statoverride` keeps its overrides in
/// `overrides`, and `stat` reports the file as `stat_says`.
fn maintainer_script(dir: &Path, script: &str, args: &[&str], stat_says: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("log");
    let overrides = dir.join("overrides");
    let stub = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    for name in [
        "systemd-sysusers",
        "systemd-tmpfiles",
        "systemctl",
        "getent",
        "adduser",
        "rm",
        "userdel",
        "deluser",
        "groupdel",
        "delgroup",
    ] {
        stub(name, "exit 0");
    }
    stub("stat", &format!("echo '{stat_says}'"));
    let o = overrides.display();
    stub(
        "dpkg-statoverride",
        &format!(
            r#"touch '{o}'
case "$1" in
  --list) /bin/grep -q " $2\$" '{o}' ;;
  --update) shift; shift; echo "$*" >> '{o}' ;;
  --remove) /bin/grep -v " $2\$" '{o}' > '{o}.new' || true; /bin/mv '{o}.new' '{o}' ;;
  *) exit 2 ;;
esac"#
        ),
    );
    let _ = std::fs::remove_file(&log);
    let out = Command::new("/bin/sh")
        .arg(repo().join("packaging/deb/scripts").join(script))
        .args(args)
        .env_clear()
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn the_config_files_group_survives_upgrades_through_a_statoverride() {
    const CONF: &str = "/etc/mobile-sessiond/config.toml";
    let dir = tempfile::tempdir().unwrap();
    let overrides = || std::fs::read_to_string(dir.path().join("overrides")).unwrap_or_default();
    // A fresh install records root:mobile-sessiond 0640, which dpkg then
    // applies to every later version of the conffile.
    let log = maintainer_script(dir.path(), "postinst", &["configure"], "");
    assert!(
        log.contains(&format!(
            "dpkg-statoverride --update --add root mobile-sessiond 0640 {CONF}"
        )),
        "{log}"
    );
    assert_eq!(overrides(), format!("root mobile-sessiond 0640 {CONF}\n"));
    // Configured again (an upgrade): the override stands, nothing is added.
    let log = maintainer_script(
        dir.path(),
        "postinst",
        &["configure", "0.1.0"],
        "root root 640",
    );
    assert!(!log.contains("--add"), "{log}");
    assert_eq!(overrides(), format!("root mobile-sessiond 0640 {CONF}\n"));
    // Removed but not purged: kept. Purged: gone.
    maintainer_script(dir.path(), "postrm", &["remove"], "");
    assert_eq!(overrides(), format!("root mobile-sessiond 0640 {CONF}\n"));
    let log = maintainer_script(dir.path(), "postrm", &["purge"], "");
    assert!(
        log.contains(&format!("dpkg-statoverride --remove {CONF}")),
        "{log}"
    );
    assert_eq!(overrides(), "");

    // An upgrade from a version without the override keeps the group the
    // file has (the admin's chgrp for User=4d), and falls back to
    // mobile-sessiond when dpkg has just put it back to root.
    for (stat, want) in [
        ("root 4d 640", "root 4d 0640"),
        ("root mobile-sessiond 640", "root mobile-sessiond 0640"),
        ("root root 640", "root mobile-sessiond 0640"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        maintainer_script(dir.path(), "postinst", &["configure", "0.1.0"], stat);
        let recorded = std::fs::read_to_string(dir.path().join("overrides")).unwrap();
        assert_eq!(recorded, format!("{want} {CONF}\n"), "the file was {stat}");
    }
}

#[test]
fn purge_removes_the_state_dir_and_keeps_the_user_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let log = maintainer_script(dir.path(), "postrm", &["remove"], "");
    assert!(!log.contains("rm "), "remove keeps the data: {log}");
    let log = maintainer_script(dir.path(), "postrm", &["purge"], "");
    assert!(
        log.lines().any(|l| l == "rm -rf /var/lib/mobile-sessiond"),
        "{log}"
    );
    for tool in ["userdel", "deluser", "groupdel", "delgroup"] {
        assert!(!log.contains(tool), "purge runs {tool}: {log}");
    }
    // The folder purge removes is the one the units and the default config
    // name.
    let tmpfiles =
        std::fs::read_to_string(repo().join("packaging/systemd/mobile-sessiond.tmpfiles.conf"))
            .unwrap();
    assert!(
        tmpfiles.contains("d /var/lib/mobile-sessiond "),
        "{tmpfiles}"
    );
    let config = std::fs::read_to_string(repo().join("packaging/config.toml")).unwrap();
    assert!(config.contains("data_dir = \"/var/lib/mobile-sessiond\""));
}

#[test]
fn the_docs_show_the_offline_security_check_beside_the_plain_one() {
    for doc in ["packaging/README.md", "README.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        if !text.contains("systemd-analyze security") {
            continue;
        }
        assert!(
            text.contains("systemd-analyze security --offline=yes"),
            "{doc} shows only the form that needs systemd as PID 1"
        );
    }
}

#[test]
fn the_readme_builds_first_and_ci_runs_its_test_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let try_it = readme
        .split("## Try it")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Try it section");
    // Nothing compiles silently behind a command that seems to hang: the
    // build comes first, then the built binaries run.
    assert!(!try_it.contains("cargo run"), "{try_it}");
    let build = try_it.find("cargo build --release").expect("a build step");
    for run in [
        "./target/release/mobile-sessiond ",
        "./target/release/mobile-session ",
    ] {
        let at = try_it.find(run).unwrap_or_else(|| panic!("{run} not run"));
        assert!(build < at, "{run} before the build");
    }
    // CI runs exactly the README's test command.
    let test = try_it
        .lines()
        .find(|l| l.starts_with("cargo test"))
        .expect("a test command");
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.starts_with(test)),
        "{test:?} not in .ci/run"
    );
}
