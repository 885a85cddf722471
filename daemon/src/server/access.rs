//! Who may talk to the daemon, from the peer's credentials:
//! **admin** is the daemon's own uid, root, or a member of `admin_group`;
//! **reader** is a member of `reader_group`; anyone else is refused.
//!
//! Membership: the peer's effective gid or one of its supplementary groups,
//! as the kernel reports them for the socket (`SO_PEERCRED`,
//! `SO_PEERGROUPS`), or the group's member list, read at start (and at each
//! reload).

use std::collections::HashSet;

use mobile_session_proto::Role;

#[derive(Debug, Clone, Default)]
struct Group {
    name: String,
    gid: u32,
    members: HashSet<u32>,
}

impl Group {
    fn contains(&self, peer: &Peer) -> bool {
        peer.gid == Some(self.gid)
            || peer.groups.contains(&self.gid)
            || peer.uid.is_some_and(|u| self.members.contains(&u))
    }
}

/// Who is at the other end of a connection, as the kernel says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (Linux `SO_PEERGROUPS`; empty elsewhere).
    pub groups: Vec<u32>,
    /// The peer's process (for the history), where the platform says.
    pub pid: Option<u32>,
}

impl Peer {
    /// The credentials of a connected Unix socket's peer.
    pub fn of(stream: &tokio::net::UnixStream) -> Self {
        let cred = stream.peer_cred().ok();
        Self {
            uid: cred.map(|c| c.uid()),
            gid: cred.map(|c| c.gid()),
            groups: peer_groups(stream),
            pid: cred
                .and_then(|c| c.pid())
                .and_then(|p| u32::try_from(p).ok()),
        }
    }
}

/// The peer's supplementary groups, as they were when it connected.
#[cfg(target_os = "linux")]
fn peer_groups(stream: &tokio::net::UnixStream) -> Vec<u32> {
    use std::os::fd::AsRawFd;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer holds `len` bytes; the kernel writes at most that.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return groups;
        }
        let short = std::io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE);
        if !short || n <= groups.len() || n > 65_536 {
            return Vec::new();
        }
        groups.resize(n, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn peer_groups(_: &tokio::net::UnixStream) -> Vec<u32> {
    Vec::new()
}

#[derive(Debug, Clone)]
pub struct Access {
    own_uid: u32,
    admin: Option<Group>,
    reader: Option<Group>,
}

#[derive(Debug, thiserror::Error)]
#[error("group {0:?} (from the config) does not exist on this system")]
pub struct UnknownGroup(String);

impl Access {
    pub fn new(
        admin_group: Option<&str>,
        reader_group: Option<&str>,
    ) -> Result<Self, UnknownGroup> {
        let load = |name: Option<&str>| -> Result<Option<Group>, UnknownGroup> {
            match name {
                None => Ok(None),
                Some(n) => lookup_group(n)
                    .map(Some)
                    .ok_or_else(|| UnknownGroup(n.to_string())),
            }
        };
        Ok(Self {
            own_uid: rustix::process::geteuid().as_raw(),
            admin: load(admin_group)?,
            reader: load(reader_group)?,
        })
    }

    /// The group the socket belongs to: `reader_group`, else `admin_group`
    /// (the other one gets an ACL entry).
    pub fn socket_group(&self) -> Option<u32> {
        self.reader.as_ref().or(self.admin.as_ref()).map(|g| g.gid)
    }

    /// The gids of the configured groups.
    pub fn groups(&self) -> Vec<u32> {
        self.group_names().into_iter().map(|(gid, _)| gid).collect()
    }

    /// The configured groups, gid and name.
    pub fn group_names(&self) -> Vec<(u32, String)> {
        [&self.admin, &self.reader]
            .into_iter()
            .flatten()
            .map(|g| (g.gid, g.name.clone()))
            .collect()
    }

    /// The role of a peer, or why it is refused.
    pub fn role_of(&self, peer: &Peer) -> Result<Role, String> {
        let Some(uid) = peer.uid else {
            return Err("the daemon cannot read this connection's credentials".into());
        };
        if uid == 0 || uid == self.own_uid || self.admin.as_ref().is_some_and(|g| g.contains(peer))
        {
            return Ok(Role::Admin);
        }
        if self.reader.as_ref().is_some_and(|g| g.contains(peer)) {
            return Ok(Role::Reader);
        }
        let groups: Vec<&str> = [&self.admin, &self.reader]
            .into_iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        Err(if groups.is_empty() {
            format!(
                "uid {uid} may not use this daemon: only its own user (uid {}) and root may",
                self.own_uid
            )
        } else {
            format!(
                "uid {uid} may not use this daemon: ask an administrator to add you to group {}",
                groups.join(" or ")
            )
        })
    }
}

/// The group `name` and its listed members (by uid), through the C
/// library (`/etc/group`, NSS), whose buffers nix sizes.
fn lookup_group(name: &str) -> Option<Group> {
    let group = nix::unistd::Group::from_name(name).ok().flatten()?;
    let members = group
        .mem
        .iter()
        .filter_map(|user| nix::unistd::User::from_name(user).ok().flatten())
        .map(|u| u.uid.as_raw())
        .collect();
    Some(Group {
        name: group.name,
        gid: group.gid.as_raw(),
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let me = rustix::process::geteuid().as_raw();
        let peer = |uid: u32, gid: u32, groups: &[u32]| Peer {
            uid: Some(uid),
            gid: Some(gid),
            groups: groups.to_vec(),
            pid: None,
        };
        let a = Access::new(None, None).unwrap();
        assert_eq!(a.role_of(&peer(0, 0, &[])), Ok(Role::Admin));
        assert_eq!(a.role_of(&peer(me, 1, &[])), Ok(Role::Admin));
        if me != 4242 {
            assert!(a.role_of(&peer(4242, 4242, &[])).is_err());
        }
        assert!(a.role_of(&Peer::default()).is_err());
        // "root" exists everywhere; gid 0. Membership by the primary gid or
        // by a supplementary group alike.
        let r = Access::new(None, Some("root")).unwrap();
        if me != 4242 {
            assert_eq!(r.role_of(&peer(4242, 0, &[])), Ok(Role::Reader));
            assert_eq!(r.role_of(&peer(4242, 4242, &[7, 0])), Ok(Role::Reader));
            assert!(r.role_of(&peer(4242, 4242, &[7])).is_err());
        }
        assert_eq!(r.groups(), [0]);
        assert!(Access::new(Some("no-such-group-xyz"), None).is_err());
    }
}
