//! The deny-list: devices (an app and a `device.id`) whose sign-ins are
//! refused whatever the policy, before any hook runs. Kept in
//! `blocked.json`, a JSON array rewritten whole and atomically at each
//! change; a file that cannot be read stops the start (an empty list would
//! let every blocked device back in).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use mobile_session_proto::BlockEntry;
use serde_json::{json, Value};

use super::{parse_rfc3339, rfc3339_ms, write_atomic, StateError};
use crate::locks::{lock, read, write};

pub const FILE: &str = "blocked.json";

pub struct Blocks {
    dir: PathBuf,
    /// Leaf. What sign-ins check: read without waiting on any file I/O.
    list: RwLock<List>,
    /// Serialises changes across their write of the file.
    changing: Mutex<()>,
}

#[derive(Default, Clone)]
struct List {
    entries: Vec<BlockEntry>,
    index: HashSet<(String, String)>,
}

impl List {
    fn new(entries: Vec<BlockEntry>) -> Self {
        let index = entries
            .iter()
            .map(|e| (e.app.clone(), e.device.clone()))
            .collect();
        Self { entries, index }
    }
}

impl Blocks {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let path = dir.join(FILE);
        let entries = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|message| StateError::Corrupt {
                path: path.clone(),
                message,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StateError::io(&path)(e)),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            list: RwLock::new(List::new(entries)),
            changing: Mutex::new(()),
        })
    }

    /// The entry that keeps `device` out of the app of `folder` (or of
    /// `app_id`, for an entry made before the app had a folder).
    pub fn find(&self, folder: &str, app_id: &str, device: &str) -> Option<BlockEntry> {
        let list = read(&self.list);
        let key = |app: &str| (app.to_string(), device.to_string());
        if !list.index.contains(&key(folder)) && !list.index.contains(&key(app_id)) {
            return None;
        }
        list.entries
            .iter()
            .find(|e| e.device == device && (e.app == folder || e.app == app_id))
            .cloned()
    }

    pub fn list(&self) -> Vec<BlockEntry> {
        read(&self.list).entries.clone()
    }

    /// Adds the entries not there yet (written before it returns); gives
    /// back each entry as the list has it.
    pub fn add(&self, new: Vec<BlockEntry>) -> std::io::Result<Vec<BlockEntry>> {
        self.change(|list| {
            let mut out = Vec::with_capacity(new.len());
            for e in new {
                let key = (e.app.clone(), e.device.clone());
                match list
                    .entries
                    .iter()
                    .find(|x| (&x.app, &x.device) == (&key.0, &key.1))
                {
                    Some(old) => out.push(old.clone()),
                    None => {
                        list.index.insert(key);
                        list.entries.push(e.clone());
                        out.push(e);
                    }
                }
            }
            out
        })
    }

    /// Lifts the entry of `device` in `app`, if there is one.
    pub fn remove(&self, app: &str, device: &str) -> std::io::Result<Option<BlockEntry>> {
        self.change(|list| {
            let at = list
                .entries
                .iter()
                .position(|e| e.app == app && e.device == device)?;
            list.index.remove(&(app.to_string(), device.to_string()));
            Some(list.entries.remove(at))
        })
    }

    /// Applies `f` to a copy of the list, writes it, then puts it in force.
    fn change<R>(&self, f: impl FnOnce(&mut List) -> R) -> std::io::Result<R> {
        let _one = lock(&self.changing);
        let mut next = read(&self.list).clone();
        let out = f(&mut next);
        write_atomic(&self.dir, FILE, &render(&next.entries))?;
        *write(&self.list) = next;
        Ok(out)
    }
}

fn render(entries: &[BlockEntry]) -> Vec<u8> {
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "app": e.app, "device": e.device, "reason": e.reason,
                "time": rfc3339_ms(e.time_ms), "uid": e.uid, "user": e.user,
                "process": e.process,
            })
        })
        .collect();
    let mut text = serde_json::to_vec_pretty(&list).unwrap_or_default();
    text.push(b'\n');
    text
}

fn parse(bytes: &[u8]) -> Result<Vec<BlockEntry>, String> {
    let list: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    list.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(app), Some(device)) = (text("app"), text("device")) else {
                return Err(format!("entry {}: no \"app\" or \"device\"", i + 1));
            };
            Ok(BlockEntry {
                app,
                device,
                reason: text("reason"),
                time_ms: text("time").and_then(|t| parse_rfc3339(&t)).unwrap_or(0),
                uid: v.get("uid").and_then(Value::as_u64).map(|u| u as u32),
                user: text("user"),
                process: text("process"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(app: &str, device: &str) -> BlockEntry {
        BlockEntry {
            app: app.into(),
            device: device.into(),
            reason: Some("lost".into()),
            time_ms: 1_700_000_000_000,
            uid: Some(0),
            user: Some("root".into()),
            process: Some("mobile-session".into()),
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_match_by_folder_or_app_id() {
        let dir = tempfile::tempdir().unwrap();
        let long = "D".repeat(8192);
        let blocks = Blocks::open(dir.path()).unwrap();
        let added = blocks
            .add(vec![entry("T.com.a", &long), entry("com.b", "x")])
            .unwrap();
        assert_eq!(added.len(), 2);
        // Added again: the entry already there stands.
        let mut again = entry("com.b", "x");
        again.reason = None;
        assert_eq!(
            blocks.add(vec![again]).unwrap()[0].reason.as_deref(),
            Some("lost")
        );
        let reopened = Blocks::open(dir.path()).unwrap();
        assert_eq!(reopened.list(), blocks.list());
        assert!(reopened.find("T.com.a", "com.a", &long).is_some());
        assert!(
            reopened.find("T2.com.b", "com.b", "x").is_some(),
            "by app id"
        );
        assert!(reopened.find("T.com.a", "com.a", "y").is_none());
        assert!(reopened.remove("com.b", "x").unwrap().is_some());
        assert!(reopened.remove("com.b", "x").unwrap().is_none());
        assert_eq!(Blocks::open(dir.path()).unwrap().list().len(), 1);
    }

    #[test]
    fn a_broken_file_is_refused_not_taken_for_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "[{\"app\": 1}]").unwrap();
        assert!(matches!(
            Blocks::open(dir.path()),
            Err(StateError::Corrupt { .. })
        ));
    }
}
