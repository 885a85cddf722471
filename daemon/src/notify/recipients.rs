//! Who a `notify` reaches: the app's live sessions that match the
//! selectors, are accepted (or pending too, when asked) and have a push
//! token. The others are skipped with a reason. No I/O.

use std::collections::{HashMap, HashSet};

use mobile_session_proto::{NotifyRecipients, Platform, Status};
use serde_json::Value;

use crate::model::session::SessionRecord;

/// One live session of the app, as the live view holds it.
pub struct Live<'a> {
    /// The id in lower case (the key's).
    pub key_id: &'a str,
    pub record: &'a SessionRecord,
}

/// A device to send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: String,
    pub platform: Platform,
    /// The push token: a credential of the device, never logged.
    pub token: String,
}

/// A session that matched and is not sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub id: String,
    pub platform: Option<Platform>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Selection {
    pub recipients: Vec<Recipient>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
}

/// `device.token` and `device.os` of a session's device object.
fn device_facts(device: &str) -> (Option<String>, Option<String>) {
    let v: Value = serde_json::from_str(device).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    (s("token").filter(|t| !t.trim().is_empty()), s("os"))
}

/// The push service of a device: its `device.os` as 4D reads it ("iOS",
/// "iPadOS" → APNs, "Android" → FCM); without one, a folder with a team
/// is an iOS app's (Android apps have no team).
pub fn platform(os: Option<&str>, has_team: bool) -> Option<Platform> {
    match os.map(str::to_ascii_lowercase).as_deref() {
        Some("ios" | "ipados" | "iphoneos") => Some(Platform::Ios),
        Some("android") => Some(Platform::Android),
        Some(_) => None,
        None => has_team.then_some(Platform::Ios),
    }
}

/// The start of a token, enough to tell which one a message means.
pub fn token_hint(token: &str) -> String {
    let head: String = token.chars().take(8).collect();
    if head.len() < token.len() {
        format!("{head}…")
    } else {
        head
    }
}

/// Selects among `sessions` (the live sessions of one app). `session_ids`
/// are the lower-case ids the SESSION arguments resolved to.
pub fn select(
    sessions: &[Live<'_>],
    who: &NotifyRecipients,
    session_ids: &[String],
    include_pending: bool,
    has_team: bool,
) -> Selection {
    let emails: HashSet<String> = who.emails.iter().map(|e| e.to_lowercase()).collect();
    let tokens: HashSet<&str> = who.device_tokens.iter().map(String::as_str).collect();
    let ids: HashSet<&str> = session_ids.iter().map(String::as_str).collect();
    let mut seen_emails = HashSet::new();
    let mut seen_tokens = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut sent_to: HashMap<String, String> = HashMap::new();
    let mut out = Selection::default();
    let mut ordered: Vec<&Live<'_>> = sessions.iter().collect();
    ordered.sort_by_key(|l| l.key_id);
    for live in ordered {
        let rec = live.record;
        let (token, os) = device_facts(&rec.device);
        let email = rec.email.as_deref().map(str::to_lowercase);
        let by_email = email.as_ref().is_some_and(|e| emails.contains(e));
        let by_token = token.as_deref().is_some_and(|t| tokens.contains(t));
        let matched = who.all || ids.contains(live.key_id) || by_email || by_token;
        if !matched {
            continue;
        }
        if by_email {
            seen_emails.extend(email);
        }
        if by_token {
            seen_tokens.extend(token.clone());
        }
        seen_ids.insert(live.key_id);
        let platform = platform(os.as_deref(), has_team);
        let skip = |reason: &str| Skipped {
            id: rec.id.to_string(),
            platform,
            reason: reason.to_string(),
        };
        if rec.status == Status::Pending && !include_pending {
            out.skipped.push(skip("pending"));
            continue;
        }
        let Some(token) = token else {
            out.skipped.push(skip("no token"));
            continue;
        };
        let Some(platform) = platform else {
            out.skipped.push(skip(&format!(
                "unknown platform (device.os {:?})",
                os.unwrap_or_default()
            )));
            continue;
        };
        if let Some(first) = sent_to.get(&token) {
            out.skipped.push(skip(&format!("same token as {first}")));
            continue;
        }
        sent_to.insert(token.clone(), rec.id.to_string());
        out.recipients.push(Recipient {
            id: rec.id.to_string(),
            platform,
            token,
        });
    }
    for e in &who.emails {
        if !seen_emails.contains(&e.to_lowercase()) {
            out.warnings
                .push(format!("no live session has the e-mail {e}"));
        }
    }
    for id in session_ids {
        if !seen_ids.contains(id.as_str()) {
            out.warnings.push(format!(
                "session {id} is not live (not pushed yet, or deleted): `mobile-session push` first"
            ));
        }
    }
    for t in &who.device_tokens {
        if !seen_tokens.contains(t.as_str()) {
            out.warnings.push(format!(
                "no live session has the push token {}",
                token_hint(t)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records from `(id, status, e-mail, device.os, device.token)`: P is
    /// pending; an empty os or token is left out.
    fn recs(rows: &[(&str, char, &str, &str, &str)]) -> Vec<SessionRecord> {
        rows.iter()
            .map(|(id, st, email, os, token)| SessionRecord {
                id: (*id).into(),
                status: if *st == 'P' {
                    Status::Pending
                } else {
                    Status::Accepted
                },
                device_id: None,
                email: Some((*email).into()),
                device: device(os, token).into(),
                hash: 0,
                claims: 0,
                token_hash: 0,
                seen: Default::default(),
            })
            .collect()
    }

    fn device(os: &str, token: &str) -> String {
        let mut d = serde_json::Map::new();
        for (k, v) in [("os", os), ("token", token)] {
            if !v.is_empty() {
                d.insert(k.into(), v.into());
            }
        }
        Value::Object(d).to_string()
    }

    /// The live entries of `recs`, keyed by their lower-case ids.
    fn lives<'a>(keys: &'a [String], recs: &'a [SessionRecord]) -> Vec<Live<'a>> {
        keys.iter()
            .zip(recs)
            .map(|(k, r)| Live {
                key_id: k,
                record: r,
            })
            .collect()
    }

    fn ids(s: &Selection) -> Vec<&str> {
        s.recipients.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn all_skips_pending_and_token_less_sessions() {
        let recs = recs(&[
            ("AA01", 'A', "a@x.com", "iOS", "t1"),
            ("aa02", 'P', "b@x.com", "iPadOS", "t2"),
            ("aa03", 'A', "c@x.com", "iOS", ""),
            ("aa04", 'A', "d@x.com", "Android", "t4"),
            ("aa05", 'A', "e@x.com", "iOS", "t1"),
            ("aa06", 'A', "f@x.com", "Tizen", "t6"),
            ("aa07", 'A', "", "", "t7"),
        ]);
        let keys: Vec<String> = recs.iter().map(|r| r.id.to_lowercase()).collect();
        let live = lives(&keys, &recs);
        let all = NotifyRecipients {
            all: true,
            ..Default::default()
        };
        let s = select(&live, &all, &[], false, true);
        assert_eq!(ids(&s), ["AA01", "aa04", "aa07"]);
        assert_eq!(s.recipients[1].platform, Platform::Android);
        // Without a team and without device.os, the platform is unknown.
        assert_eq!(s.recipients[2].platform, Platform::Ios);
        let reasons: Vec<(&str, &str)> = s
            .skipped
            .iter()
            .map(|k| (k.id.as_str(), k.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("aa02", "pending"),
                ("aa03", "no token"),
                ("aa05", "same token as AA01"),
                ("aa06", "unknown platform (device.os \"Tizen\")"),
            ]
        );
        let with_pending = select(&live, &all, &[], true, false);
        assert_eq!(ids(&with_pending), ["AA01", "aa02", "aa04"]);
        assert!(with_pending
            .skipped
            .iter()
            .any(|k| k.id == "aa07" && k.reason.starts_with("unknown platform")));
    }

    #[test]
    fn emails_sessions_and_tokens_add_up_and_unmatched_ones_are_warned_of() {
        let recs = recs(&[
            ("aa01", 'A', "Marie@Example.com", "iOS", "t1"),
            ("aa02", 'A', "marie@example.com", "iOS", "t2"),
            ("aa03", 'A', "li@example.com", "iOS", "t3"),
            ("aa04", 'A', "zoe@example.com", "iOS", "t4"),
        ]);
        let keys: Vec<String> = recs.iter().map(|r| r.id.to_lowercase()).collect();
        let live = lives(&keys, &recs);
        let who = NotifyRecipients {
            emails: vec!["MARIE@example.com".into(), "nobody@example.com".into()],
            device_tokens: vec!["t4".into(), "t9-unknown-token".into()],
            ..Default::default()
        };
        let s = select(&live, &who, &["aa03".into(), "aa09".into()], false, true);
        assert_eq!(ids(&s), ["aa01", "aa02", "aa03", "aa04"]);
        assert_eq!(
            s.warnings,
            [
                "no live session has the e-mail nobody@example.com",
                "session aa09 is not live (not pushed yet, or deleted): `mobile-session push` first",
                "no live session has the push token t9-unkno…",
            ]
        );
        let none = select(&live, &NotifyRecipients::default(), &[], false, true);
        assert!(none.recipients.is_empty() && none.skipped.is_empty());
    }
}
