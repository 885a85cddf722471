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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::write_key;
    use crate::model::testgen::record;
    use mobile_session_proto::Status;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Put(u8, u8),
        Remove(u8),
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0u8..4).prop_map(|(k, t)| Op::Insert(k, t)),
            (0u8..6, 0u8..4).prop_map(|(k, t)| Op::Put(k, t)),
            (0u8..6).prop_map(Op::Remove),
            any::<u8>().prop_map(Op::Retain),
        ]
    }

    fn key(k: u8) -> SessionKey {
        SessionKey::new("com.a", &format!("{k:04x}"))
    }

    /// Session `k`'s record with token `t` of its own, or, `shared`, a
    /// token text that other sessions' files may hold too.
    fn rec(k: u8, t: u8, shared: bool) -> Arc<SessionRecord> {
        let mut r = (*record(&format!("{k:04x}"), Status::Accepted, &format!("{k}.{t}"))).clone();
        let token = if shared {
            format!("t{t}")
        } else {
            format!("t{k}.{t}")
        };
        r.token_hash = crate::model::session::token_hash(&token);
        Arc::new(r)
    }

    proptest! {
        /// Whatever was inserted, replaced or removed, the index answers
        /// only for a live session that holds that token now; and, tokens
        /// being each session's own, it finds every one.
        #[test]
        fn the_token_index_follows_every_change(ops in proptest::collection::vec(op(), 0..40), shared in any::<bool>()) {
            let mut live = LiveView::default();
            for op in ops {
                match op {
                    Op::Insert(k, t) => drop(live.insert(key(k), rec(k, t, shared))),
                    Op::Put(k, t) => {
                        let mut text = String::new();
                        write_key(&mut text, "com.a", &format!("{k:04x}"));
                        drop(live.put(&text, rec(k, t, shared)));
                    }
                    Op::Remove(k) => drop(live.remove(&key(k))),
                    Op::Retain(mask) => live.retain(|k| {
                        let i = u8::from_str_radix(&k.to_string()[6..], 16).unwrap_or(0);
                        mask & (1 << (i % 8)) != 0
                    }),
                }
                for (k, r) in live.iter() {
                    match live.by_token(r.token_hash) {
                        Some((found, fr)) => {
                            prop_assert_eq!(fr.token_hash, r.token_hash);
                            prop_assert!(Arc::ptr_eq(fr, live.get_key(found).unwrap()));
                        }
                        None => prop_assert!(shared, "{k} not indexed"),
                    }
                }
                prop_assert!(live.by_token.len() <= live.len());
                for (h, k) in &live.by_token {
                    prop_assert!(live.get_key(k).is_some_and(|r| r.token_hash == *h) || shared);
                }
            }
        }
    }
}
