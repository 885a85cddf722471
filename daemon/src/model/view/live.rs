//! The live view: what the last push applied, which `verify` answers from.
//! Sessions are found by key, and by the hash of their file's token: the
//! token a client sends is, nearly always, that very text, so `verify`
//! hashes it and finds the session without decoding it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::model::names::{write_key, SessionKey};
use crate::model::session::SessionRecord;

/// The live view's hasher: `verify` hashes a key per request, and SipHash
/// was a tenth of its time. Keyed per process all the same.
type LiveHasher = foldhash::fast::RandomState;

/// Takes a token hash as its own hash: it is a keyed SipHash already.
#[derive(Default)]
struct TokenHashHasher(u64);

impl Hasher for TokenHashHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the server holds in memory after the last push: O(1) by key.
#[derive(Debug, Default, Clone)]
pub struct LiveView {
    sessions: HashMap<SessionKey, Arc<SessionRecord>, LiveHasher>,
    /// Each live session's key by [`SessionRecord::token_hash`].
    by_token: HashMap<u64, SessionKey, BuildHasherDefault<TokenHashHasher>>,
}

impl LiveView {
    /// Looks up session `id` (any case) of `folder` without allocating.
    pub fn get(&self, folder: &str, id: &str) -> Option<&Arc<SessionRecord>> {
        thread_local! {
            static KEY: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
        }
        KEY.with(|k| {
            let mut k = k.borrow_mut();
            write_key(&mut k, folder, id);
            self.sessions.get(k.as_str())
        })
    }

    pub fn get_key(&self, key: &SessionKey) -> Option<&Arc<SessionRecord>> {
        self.sessions.get(key)
    }

    /// The session of key text `key` (as [`write_key`] writes it).
    pub fn get_str(&self, key: &str) -> Option<&Arc<SessionRecord>> {
        self.sessions.get(key)
    }

    /// The live session whose file's token has this hash.
    pub fn by_token(&self, hash: u64) -> Option<(&SessionKey, &Arc<SessionRecord>)> {
        let key = self.by_token.get(&hash)?;
        let rec = self.sessions.get(key)?;
        (rec.token_hash == hash).then_some((key, rec))
    }

    /// Puts `rec` live under `key`; returns the record it replaced.
    pub fn insert(
        &mut self,
        key: SessionKey,
        rec: Arc<SessionRecord>,
    ) -> Option<Arc<SessionRecord>> {
        let hash = rec.token_hash;
        let old = self.sessions.insert(key.clone(), rec);
        self.retoken(&key, old.as_deref(), Some(hash));
        old
    }

    /// [`Self::insert`] under key text `key`: for a key already live,
    /// nothing is allocated.
    pub fn put(&mut self, key: &str, rec: Arc<SessionRecord>) -> Option<Arc<SessionRecord>> {
        let Some(slot) = self.sessions.get_mut(key) else {
            return self.insert(SessionKey::from(key), rec);
        };
        let hash = rec.token_hash;
        let old = std::mem::replace(slot, rec);
        if old.token_hash != hash {
            if let Some((k, _)) = self.sessions.get_key_value(key) {
                let k = k.clone();
                self.retoken(&k, Some(&old), Some(hash));
            }
        }
        Some(old)
    }

    pub fn remove(&mut self, key: &SessionKey) -> Option<Arc<SessionRecord>> {
        let old = self.sessions.remove(key)?;
        self.retoken(key, Some(&old), None);
        Some(old)
    }

    /// Keeps the sessions `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&SessionKey) -> bool) {
        let by_token = &mut self.by_token;
        self.sessions.retain(|k, rec| {
            let kept = keep(k);
            if !kept && by_token.get(&rec.token_hash) == Some(k) {
                by_token.remove(&rec.token_hash);
            }
            kept
        });
    }

    /// Makes room for `more` sessions at once.
    pub fn reserve(&mut self, more: usize) {
        self.sessions.reserve(more);
        self.by_token.reserve(more);
    }

    /// The token index after `key`'s record went from `old` to one whose
    /// token hash is `new` (`None`: no record any more).
    fn retoken(&mut self, key: &SessionKey, old: Option<&SessionRecord>, new: Option<u64>) {
        if let Some(old) = old.filter(|o| Some(o.token_hash) != new) {
            if self.by_token.get(&old.token_hash) == Some(key) {
                self.by_token.remove(&old.token_hash);
            }
        }
        if let Some(hash) = new {
            if self.by_token.get(&hash) != Some(key) {
                self.by_token.insert(hash, key.clone());
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SessionKey, &Arc<SessionRecord>)> {
        self.sessions.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &SessionKey> {
        self.sessions.keys()
    }

    pub fn contains(&self, key: &SessionKey) -> bool {
        self.sessions.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}
