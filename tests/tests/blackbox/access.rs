//! Who may talk to the daemon: readers may look and verify, with
//! tokens redacted; writes need admin; anyone else is refused. The client
//! runs as `nobody` (uid/gid 65534) against a daemon running as root.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

fn as_nobody_cmd(d: &Daemon, args: &[&str]) -> Command {
    let mut cmd = Command::new(for_others(&client_bin()));
    cmd.arg("--socket")
        .arg(&d.socket)
        .args(args)
        .uid(NOBODY)
        .gid(NOBODY);
    cmd
}

fn output(mut cmd: Command) -> Output {
    cmd.output().expect("run the client as nobody")
}

fn as_nobody(d: &Daemon, args: &[&str]) -> Output {
    output(as_nobody_cmd(d, args))
}

/// A daemon whose socket `nobody` can reach, with `config`.
fn daemon(config: &str) -> Option<Daemon> {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run the client as another user");
        return None;
    }
    let d = Daemon::start_with(Opts {
        config: Some(config.into()),
        ..Default::default()
    });
    // The temp dir is 0700; let others traverse to the socket's folder.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(d)
}

#[test]
fn readers_read_with_tokens_redacted_and_cannot_write() {
    let Some(d) = daemon("reader_group = \"nogroup\"\n") else {
        return;
    };
    let before = snapshot(&d.apps_dir());

    let out = as_nobody(&d, &["--json", "apps"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = as_nobody(&d, &["--json", "sessions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("f3a9c1d2e4b5a6978899"),
        "push token shown to a reader: {text}"
    );
    assert!(text.contains("<redacted>"));

    let out = as_nobody(&d, &["--json", "show", IPAD_ID]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["token"], "<redacted>");
    assert_eq!(shown["device"]["token"], "<redacted>");
    assert_eq!(shown["email"], "marie.dupont@example.com");

    assert_eq!(
        as_nobody(&d, &["verify", SEED_TOKEN]).status.code(),
        Some(0)
    );
    assert_eq!(
        as_nobody(&d, &["verify", IPAD_TOKEN]).status.code(),
        Some(3)
    );
    assert!(as_nobody(&d, &["status"]).status.success());

    for cmd in [
        &["accept", IPAD_ID][..],
        &["set-status", "pending", SEED_ID],
        &["delete", ANDROID_ID],
        &["push"],
        &["refresh"],
    ] {
        let out = as_nobody(&d, cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&out).contains("needs admin rights"),
            "{cmd:?}: {}",
            stderr(&out)
        );
    }
    let mut cmd = as_nobody_cmd(&d, &["authenticate"]);
    cmd.stdin(std::process::Stdio::null());
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(snapshot(&d.apps_dir()), before, "a reader changed files");
    // Admins (here root) still may.
    d.ok(&["accept", IPAD_ID]);
}

#[test]
fn admin_group_members_may_write() {
    let Some(d) = daemon("admin_group = \"nogroup\"\n") else {
        return;
    };
    let out = as_nobody(&d, &["accept", IPAD_ID, "--push"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(0));
    let out = as_nobody(&d, &["--json", "show", IPAD_ID]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["token"], IPAD_TOKEN, "admins see tokens");
}

#[test]
fn strangers_are_refused_with_a_clear_error() {
    // The socket is the "daemon" group's, and nobody is not a member.
    let Some(d) = daemon("reader_group = \"daemon\"\n") else {
        return;
    };
    // Let nobody reach the socket at all, to reach the credential check.
    std::fs::set_permissions(
        d.socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_nobody(&d, &["status"]);
    assert_eq!(out.status.code(), Some(77), "refused at the handshake");
    let err = stderr(&out);
    assert!(
        err.contains("refused") && err.contains("uid 65534") && err.contains("daemon"),
        "{err}"
    );
    assert!(d.log_text().contains("connection refused"));
}

/// `status` as nobody with the socket's folder at `folder_mode`: refused
/// with exit 77; its stderr.
fn shut_out(d: &Daemon, folder_mode: u32) -> String {
    std::fs::set_permissions(
        d.socket.parent().unwrap(),
        std::fs::Permissions::from_mode(folder_mode),
    )
    .unwrap();
    let out = as_nobody(d, &["status"]);
    assert_eq!(out.status.code(), Some(77), "folder {folder_mode:o}");
    stderr(&out)
}

#[test]
fn permission_denied_on_the_socket_exits_77_naming_its_group() {
    // The socket and its folder belong to group "daemon"; nobody is not in it.
    let Some(d) = daemon("reader_group = \"daemon\"\n") else {
        return;
    };
    // First the folder shuts nobody out (0750), then only the socket (0660).
    for folder_mode in [0o750, 0o755] {
        let err = shut_out(&d, folder_mode);
        assert!(
            err.starts_with("error: permission denied")
                && err.contains(d.socket.to_str().unwrap())
                && err.contains("group daemon")
                && err.contains("usermod -aG daemon"),
            "{err}"
        );
    }
}

#[test]
fn the_permission_hint_names_the_access_groups_not_the_sockets_own_group() {
    // As under the packaged socket unit: the socket belongs to a group of
    // its own (here "daemon"), and admin_group gets in by its ACL entry.
    // Joining the socket's group would open the file and then be refused.
    let Some(d) = daemon("admin_group = \"adm\"\n") else {
        return;
    };
    std::os::unix::fs::chown(&d.socket, None, Some(gid_of("daemon"))).unwrap();
    if acl_groups(&d.socket).is_none() {
        eprintln!("skipped: no ACLs on this file system");
        return;
    }
    // Shut out by the folder (0750), then by the socket alone.
    for folder_mode in [0o750, 0o755] {
        let err = shut_out(&d, folder_mode);
        assert!(
            err.contains("group adm") && err.contains("usermod -aG adm "),
            "folder {folder_mode:o}: {err}"
        );
        assert!(!err.contains("daemon"), "folder {folder_mode:o}: {err}");
    }
}

#[test]
fn without_access_groups_the_permission_hint_names_no_group_to_join() {
    // A daemon run by hand, no group configured: only its user (here root)
    // gets in, whatever group its socket has.
    let Some(d) = daemon("") else {
        return;
    };
    let err = shut_out(&d, 0o755);
    assert!(
        err.contains("only root") && err.contains("admin_group or reader_group"),
        "{err}"
    );
    assert!(!err.contains("usermod"), "{err}");
}

/// The client as `nobody`, through `setpriv`, with `group` as its primary
/// group and `extra` as its only supplementary ones.
fn as_member(d: &Daemon, group: &str, extra: &[&str], args: &[&str]) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={}", gid_of(group)));
    if extra.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        let gids: Vec<String> = extra.iter().map(|g| gid_of(g).to_string()).collect();
        cmd.arg(format!("--groups={}", gids.join(",")));
    }
    cmd.arg("--")
        .arg(for_others(&client_bin()))
        .arg("--socket")
        .arg(&d.socket)
        .args(args);
    output(cmd)
}

#[test]
fn with_both_groups_set_a_member_of_either_alone_connects_with_its_role() {
    // The socket belongs to reader_group (nogroup); admin_group (adm) gets
    // in through its ACL entry; roles come from the peer's groups, the
    // supplementary ones included.
    let Some(d) = daemon("admin_group = \"adm\"\nreader_group = \"nogroup\"\n") else {
        return;
    };
    // Admin-group only: a supplementary group, its primary one is neither.
    let out = as_member(&d, "users", &["adm"], &["accept", IPAD_ID, "--push"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(d.cli(&["verify", IPAD_TOKEN]).status.code(), Some(0));
    // Reader-group only: may look, may not write.
    let out = as_member(&d, "users", &["nogroup"], &["--json", "sessions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("<redacted>"));
    let out = as_member(&d, "users", &["nogroup"], &["delete", ANDROID_ID]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("admin"), "{}", stderr(&out));
    assert!(d.file(ANDROID, ANDROID_ID).exists());
    // Neither: the socket's permissions turn it away, and it is told which
    // group to join.
    let out = as_member(&d, "users", &[], &["status"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("nogroup"), "{}", stderr(&out));
}

#[test]
fn a_reader_may_not_send_large_requests() {
    let Some(d) = daemon("reader_group = \"nogroup\"\n") else {
        return;
    };
    // A frame is held whole before it is read: a reader's may be a few KiB,
    // so that many readers cannot make the daemon hold a MiB each.
    let long = "a".repeat(20_000);
    let out = as_nobody(&d, &["--json", "sessions", "--email", &long]);
    // A request refused as too large is a bad request: exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the most a reader may send"),
        "{}",
        stderr(&out)
    );
    // The longest token a reader may verify still fits.
    let token = "A".repeat(mobile_session_proto::MAX_TOKEN_LEN);
    assert_eq!(as_nobody(&d, &["verify", &token]).status.code(), Some(4));
    // An admin may send more.
    assert_eq!(
        d.json(&["sessions", "--email", &long]),
        serde_json::json!([])
    );
}
