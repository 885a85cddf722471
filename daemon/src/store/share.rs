//! New session files and app folders, made for the 4D server to share.
//!
//! The 4D server and the daemon share `MobileApps` through a group. A new
//! file gets its folder's group and the configured mode (0660 by default:
//! that group reads and writes, others nothing); a new app folder gets
//! `MobileApps`' group, the setgid bit (what the 4D server creates in it
//! keeps the group) and the matching permissions (02770 for 0660). Both are
//! set on the descriptor, so the umask has no say and no path is followed.
//! A group change the daemon may not make (not root, not a member) is left
//! out: the object keeps the daemon's group, as the kernel made it.

use std::os::fd::AsFd;

use rustix::fs::{self as rfs, Gid, Mode};

/// The mode of new session files unless configured otherwise.
pub const DEFAULT_FILE_MODE: u32 = 0o660;

/// The mode of a new app folder holding files of `file_mode`: setgid, the
/// owner's rwx, and for the group and for others, search plus the read and
/// write the files give them.
pub fn folder_mode(file_mode: u32) -> u32 {
    [6, 3, 0].into_iter().fold(0o2000, |mode, shift| {
        let bits = (file_mode >> shift) & 0o6;
        if bits == 0 {
            mode
        } else {
            mode | ((bits | 0o1) << shift)
        }
    }) | 0o700
}

/// Gives a new file (`file`, in the folder `dir`) the folder's group and
/// `file_mode`.
pub fn new_file(file: impl AsFd, dir: impl AsFd, file_mode: u32) -> rustix::io::Result<()> {
    give_group_of(&file, dir)?;
    rfs::fchmod(&file, Mode::from_raw_mode(file_mode))
}

/// Gives a new app folder (`folder`, in `MobileApps` open as `root`)
/// `MobileApps`' group, the setgid bit and [`folder_mode`].
pub fn new_folder(folder: impl AsFd, root: impl AsFd, file_mode: u32) -> rustix::io::Result<()> {
    give_group_of(&folder, root)?;
    // After the chown: a chown may clear the setgid bit.
    rfs::fchmod(&folder, Mode::from_raw_mode(folder_mode(file_mode)))
}

/// `target` takes the group of `of` where the daemon may give it.
fn give_group_of(target: impl AsFd, of: impl AsFd) -> rustix::io::Result<()> {
    let want = rfs::fstat(&of)?.st_gid;
    if rfs::fstat(&target)?.st_gid == want {
        return Ok(());
    }
    match rfs::fchown(&target, None, Some(Gid::from_raw(want))) {
        // Not root and not a member of that group: it stays the daemon's.
        Err(rustix::io::Errno::PERM) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_the_file_mode() {
        assert_eq!(folder_mode(0o660), 0o2770);
        assert_eq!(folder_mode(0o640), 0o2750);
        assert_eq!(folder_mode(0o644), 0o2755);
        assert_eq!(folder_mode(0o600), 0o2700);
        assert_eq!(folder_mode(0o666), 0o2777);
    }

    #[test]
    fn a_new_file_takes_the_mode_whatever_the_umask() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::File::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let d = std::fs::File::open(dir.path()).unwrap();
        new_file(&file, &d, 0o640).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(meta.gid(), std::fs::metadata(dir.path()).unwrap().gid());
        let sub = dir.path().join("app");
        std::fs::create_dir(&sub).unwrap();
        new_folder(std::fs::File::open(&sub).unwrap(), &d, 0o660).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().mode() & 0o7777;
        // The setgid bit stays off only where the daemon is not in the group.
        assert_eq!(mode & 0o777, 0o770);
    }

    #[test]
    fn the_store_shares_what_it_creates_with_the_configured_mode() {
        use crate::store::{SessionStore, WriteMode};
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        for (mode, folder, app) in [(0o660, 0o770, "com.a"), (0o640, 0o750, "com.b")] {
            let s = SessionStore::open(dir.path()).unwrap().with_file_mode(mode);
            assert!(s.ensure_folder(app).unwrap());
            let meta = std::fs::metadata(s.root().join(app)).unwrap();
            assert_eq!(meta.mode() & 0o777, folder, "{app}");
            assert_eq!(meta.gid(), std::fs::metadata(s.root()).unwrap().gid());
            s.write(app, "abcd", b"{}", WriteMode::Create).unwrap();
            let meta = std::fs::metadata(s.session_path(app, "abcd")).unwrap();
            assert_eq!(meta.mode() & 0o7777, mode, "{app}");
        }
    }
}
