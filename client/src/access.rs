//! Who may open the daemon's socket, as the file system tells a user who
//! may not: read when connecting fails with `EACCES`, so that the hint
//! names the groups that really let one in.
//!
//! The daemon gives each of its `admin_group` and `reader_group` a POSIX
//! ACL entry on the socket (and on a folder it made for it): those named
//! entries are the groups it admits. The socket's own group is named only
//! where no ACL can be read (no ACL support), since then its mode bits are
//! what let people in; with ACLs, a group without an entry of its own
//! (systemd's `SocketGroup=`) opens the file but is refused by the daemon.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User};

/// What the file system says about who may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketAccess {
    /// Groups whose members may open the socket (and its folder).
    pub groups: Vec<String>,
    /// The socket's (or its folder's) owner, who always may.
    pub owner: Option<String>,
}

/// The ACL as the kernel stores it (`system.posix_acl_access`).
const ACL_VERSION: u32 = 2;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const WRITE: u16 = 2;
const SEARCH: u16 = 1;

/// What an ACL says, for a file whose access needs the `need` bits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Acl {
    /// Named group entries that grant `need` (after the mask), by gid.
    Groups(Vec<u32>),
    /// The file system keeps no ACLs here: the mode bits decide.
    Unsupported,
}

/// Who may connect to the socket at `path`: its own ACL when it can be
/// read, else its folder's (the folder is what shut the user out).
pub fn of_socket(path: &Path) -> SocketAccess {
    let (file, need) = match std::fs::metadata(path) {
        Ok(_) => (path, WRITE),
        Err(_) => match path.parent() {
            Some(dir) => (dir, SEARCH),
            None => return SocketAccess::default(),
        },
    };
    let Ok(meta) = std::fs::metadata(file) else {
        return SocketAccess::default();
    };
    let owner = user_name(meta.uid());
    let gids = match read_acl(file, need) {
        Some(Acl::Groups(gids)) => gids,
        // The mode bits: the owning group, when they let it in.
        Some(Acl::Unsupported) | None => {
            let group_bits = ((meta.mode() >> 3) & 7) as u16;
            match group_bits & need {
                0 => Vec::new(),
                _ => vec![meta.gid()],
            }
        }
    };
    SocketAccess {
        groups: gids.into_iter().map(group_name).collect(),
        owner,
    }
}

/// A group's name, or `gid N` when it has none.
pub fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => format!("gid {gid}"),
    }
}

/// A user's name, if the system knows it.
pub fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// `None`: the ACL could not be read (no permission, an error).
#[cfg(target_os = "linux")]
fn read_acl(path: &Path, need: u16) -> Option<Acl> {
    const NAME: &str = "system.posix_acl_access";
    let size = match rustix::fs::getxattr_query(path, NAME) {
        Ok(n) => n,
        // No ACL beyond the mode bits: no named group.
        Err(rustix::io::Errno::NODATA) => return Some(Acl::Groups(Vec::new())),
        Err(rustix::io::Errno::OPNOTSUPP) => return Some(Acl::Unsupported),
        Err(_) => return None,
    };
    let mut buf = vec![0u8; size];
    let n = rustix::fs::getxattr(path, NAME, &mut buf[..]).ok()?;
    buf.truncate(n);
    parse(&buf, need)
}

#[cfg(not(target_os = "linux"))]
fn read_acl(_: &Path, _: u16) -> Option<Acl> {
    Some(Acl::Unsupported)
}

/// The named groups of an ACL whose entry, under the mask, grants `need`.
fn parse(bytes: &[u8], need: u16) -> Option<Acl> {
    let (version, entries) = bytes.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != ACL_VERSION || entries.len() % 8 != 0 {
        return None;
    }
    let entries: Vec<(u16, u16, u32)> = entries
        .chunks_exact(8)
        .map(|e| {
            (
                u16::from_le_bytes([e[0], e[1]]),
                u16::from_le_bytes([e[2], e[3]]),
                u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
            )
        })
        .collect();
    let mask = entries
        .iter()
        .find(|e| e.0 == MASK)
        .map_or(7, |&(_, perm, _)| perm);
    let gids = entries
        .iter()
        .filter(|&&(tag, perm, _)| tag == GROUP && perm & mask & need == need)
        .map(|&(_, _, gid)| gid)
        .collect();
    Some(Acl::Groups(gids))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP_OBJ: u16 = 0x04;

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut out = ACL_VERSION.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&perm.to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    #[test]
    fn named_groups_count_when_the_mask_lets_them_through() {
        let both = acl(&[
            (0x01, 6, u32::MAX),
            (GROUP_OBJ, 6, u32::MAX),
            (GROUP, 6, 100),
            (GROUP, 4, 200),
            (MASK, 6, u32::MAX),
            (0x20, 0, u32::MAX),
        ]);
        assert_eq!(parse(&both, WRITE), Some(Acl::Groups(vec![100])));
        // A folder: search (x) is what counts, and the mask may take it away.
        let folder = acl(&[(GROUP, 5, 100), (MASK, 4, u32::MAX)]);
        assert_eq!(parse(&folder, SEARCH), Some(Acl::Groups(vec![])));
        let folder = acl(&[(GROUP, 5, 100), (MASK, 5, u32::MAX)]);
        assert_eq!(parse(&folder, SEARCH), Some(Acl::Groups(vec![100])));
        // Not an ACL of this format.
        assert_eq!(parse(&[1, 0, 0, 0], WRITE), None);
        assert_eq!(parse(&both[..7], WRITE), None);
    }

    #[test]
    fn names_come_from_the_system() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        let root_group = group_name(0);
        assert!(
            root_group == "root" || root_group == "wheel",
            "{root_group}"
        );
        assert_eq!(group_name(4_000_000_123), "gid 4000000123");
    }
}
