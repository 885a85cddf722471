//! Who may talk to the daemon, from the peer's credentials:
//! **admin** is the daemon's own uid, root, or a member of `admin_group`;
//! **reader** is a member of `reader_group`; anyone else is refused.
//!
//! Membership is the group's primary gid (the peer's effective gid, as the
//! kernel reports it) or its member list, read once at start.

use std::collections::HashSet;
use std::ffi::{CStr, CString};

use mobile_session_proto::Role;

#[derive(Debug, Clone, Default)]
struct Group {
    name: String,
    gid: u32,
    members: HashSet<u32>,
}

impl Group {
    fn contains(&self, uid: u32, gid: u32) -> bool {
        self.gid == gid || self.members.contains(&uid)
    }
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

    /// The group the socket should belong to so that group members can open
    /// it at all: `reader_group`, else `admin_group`.
    pub fn socket_group(&self) -> Option<u32> {
        self.reader.as_ref().or(self.admin.as_ref()).map(|g| g.gid)
    }

    /// The role of a peer, or why it is refused.
    pub fn role_of(&self, uid: Option<u32>, gid: Option<u32>) -> Result<Role, String> {
        let Some(uid) = uid else {
            return Err("the daemon cannot read this connection's credentials".into());
        };
        let gid = gid.unwrap_or(u32::MAX);
        if uid == 0
            || uid == self.own_uid
            || self.admin.as_ref().is_some_and(|g| g.contains(uid, gid))
        {
            return Ok(Role::Admin);
        }
        if self.reader.as_ref().is_some_and(|g| g.contains(uid, gid)) {
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

fn lookup_group(name: &str) -> Option<Group> {
    let cname = CString::new(name).ok()?;
    let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
    loop {
        // SAFETY: all pointers are valid for the call; `result` points into
        // `grp`/`buf`, which outlive every use below.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut grp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 24 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        let mut members = HashSet::new();
        let mut p = grp.gr_mem;
        // SAFETY: gr_mem is a NULL-terminated array of C strings in `buf`.
        unsafe {
            while !p.is_null() && !(*p).is_null() {
                if let Ok(user) = CStr::from_ptr(*p).to_str() {
                    if let Some(uid) = lookup_uid(user) {
                        members.insert(uid);
                    }
                }
                p = p.add(1);
            }
        }
        return Some(Group {
            name: name.to_string(),
            gid: grp.gr_gid,
            members,
        });
    }
}

fn lookup_uid(user: &str) -> Option<u32> {
    let cname = CString::new(user).ok()?;
    let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
    // SAFETY: as in lookup_group.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(pwd.pw_uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let me = rustix::process::geteuid().as_raw();
        let a = Access::new(None, None).unwrap();
        assert_eq!(a.role_of(Some(0), Some(0)), Ok(Role::Admin));
        assert_eq!(a.role_of(Some(me), None), Ok(Role::Admin));
        if me != 4242 {
            assert!(a.role_of(Some(4242), Some(4242)).is_err());
        }
        assert!(a.role_of(None, None).is_err());
        // "root" exists everywhere; gid 0.
        let r = Access::new(None, Some("root")).unwrap();
        if me != 4242 {
            assert_eq!(r.role_of(Some(4242), Some(0)), Ok(Role::Reader));
        }
        assert!(Access::new(Some("no-such-group-xyz"), None).is_err());
    }
}
