//! POSIX ACLs on the socket and its folder, so that every configured group
//! can connect although a file has one group: the socket stays 0660 (its
//! folder 0750) and each of `admin_group` and `reader_group` gets an entry
//! of its own. Who may do what is then decided from the peer's credentials
//! at the handshake.
//!
//! The ACL is written as the kernel's `system.posix_acl_access` attribute
//! (what `setfacl` does), so no library is needed. Linux only; elsewhere,
//! and on file systems without ACLs, the caller is told it did not work.

use std::io;
use std::path::Path;

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// The attribute for a file of `mode` with these named groups added, each
/// with `perm` (bits `rwx` = 4, 2, 1): entries sorted by tag then id, and a
/// mask that lets both the owning group and the named ones through.
fn encode(mode: u32, groups: &[u32], perm: u16) -> Vec<u8> {
    let bits = |shift: u32| ((mode >> shift) & 7) as u16;
    let mut named: Vec<u32> = groups.to_vec();
    named.sort_unstable();
    named.dedup();
    let mut entries: Vec<(u16, u16, u32)> = vec![(USER_OBJ, bits(6), UNDEFINED_ID)];
    entries.push((GROUP_OBJ, bits(3), UNDEFINED_ID));
    entries.extend(named.iter().map(|&g| (GROUP, perm, g)));
    entries.push((MASK, bits(3) | perm, UNDEFINED_ID));
    entries.push((OTHER, bits(0), UNDEFINED_ID));
    let mut out = VERSION.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// Gives each of `groups` the permissions `perm` on `path` (besides its
/// owner and owning group), keeping its mode bits.
pub fn grant(path: &Path, groups: &[u32], perm: u16) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::symlink_metadata(path)?.mode();
        let value = encode(mode, groups, perm);
        rustix::fs::setxattr(
            path,
            "system.posix_acl_access",
            &value,
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, groups, perm, encode(0, &[], 0));
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "POSIX ACLs are set on Linux only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_sorted_and_masked() {
        let v = encode(0o660, &[300, 100, 300], 6);
        let entries: Vec<(u16, u16, u32)> = v[4..]
            .chunks(8)
            .map(|c| {
                (
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        assert_eq!(u32::from_le_bytes([v[0], v[1], v[2], v[3]]), 2);
        assert_eq!(
            entries,
            [
                (USER_OBJ, 6, UNDEFINED_ID),
                (GROUP_OBJ, 6, UNDEFINED_ID),
                (GROUP, 6, 100),
                (GROUP, 6, 300),
                (MASK, 6, UNDEFINED_ID),
                (OTHER, 0, UNDEFINED_ID),
            ]
        );
    }

    /// The ACL stored on `path`, as the kernel gives it back.
    #[cfg(target_os = "linux")]
    fn stored(path: &Path) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let n = rustix::fs::getxattr(path, "system.posix_acl_access", &mut buf[..])
            .unwrap_or_else(|e| panic!("reading the ACL of {} back: {e}", path.display()));
        buf.truncate(n);
        buf
    }

    /// Whether the file system under `dir` takes ACLs at all: an ACL that
    /// says no more than the mode bits is set on a probe file. Only
    /// EOPNOTSUPP means no; any other failure is a failure.
    #[cfg(target_os = "linux")]
    fn takes_acls(dir: &Path) -> bool {
        let probe = dir.join("probe");
        std::fs::write(&probe, "").unwrap();
        let plain = encode(0o600, &[], 0);
        match rustix::fs::setxattr(
            &probe,
            "system.posix_acl_access",
            &plain,
            rustix::fs::XattrFlags::empty(),
        ) {
            Ok(()) => true,
            Err(rustix::io::Errno::OPNOTSUPP) => false,
            Err(e) => panic!("probing for ACL support: {e}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_grant_is_stored_as_encoded_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        if !takes_acls(dir.path()) {
            eprintln!(
                "skipped: the file system under {} has no ACLs (EOPNOTSUPP)",
                dir.path().display()
            );
            return;
        }
        let file = dir.path().join("socket-like");
        std::fs::write(&file, "x").unwrap();
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        for (path, mode, perm) in [(&file, 0o660, 6), (&folder, 0o750, 5)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
            grant(path, &[4243, 4242, 4243], perm).unwrap();
            assert_eq!(
                stored(path),
                encode(mode, &[4242, 4243], perm),
                "{}",
                path.display()
            );
            // The owner and owning group keep their bits: the mask lets them
            // through, and the mode the kernel derives from the ACL is the
            // one there was.
            let now = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(now, mode, "{}", path.display());
            // Granted again with other groups: the entries are replaced.
            grant(path, &[7], perm).unwrap();
            assert_eq!(stored(path), encode(mode, &[7], perm));
        }
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn elsewhere_a_grant_says_it_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let e = grant(dir.path(), &[4242], 5).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    }
}
