//! Whether a sign-in is admitted, and with which status — pure rules, no I/O.
//!
//! A [`Decision`] comes from the hook when the app has one (it alone
//! decides), else from the static rules of its [`Policy`]:
//! `allow_email_domains` (non-empty: other domains are refused), `sign_in`
//! (unless `"open"`, refuses what an allow rule does not admit; unset, with
//! no allow rule, sign-in is not configured and every one is refused, as 4D
//! refuses without an `On Mobile App Authentication` method),
//! `accept_email_domains` (non-empty: listed domains accepted at once,
//! others pending), then `verify`.
//!
//! [`status_of`] then meets the session on disk, if there is one: the
//! stored status decides an existing session. The rules never turn a
//! stored `pending` into `accepted` (an administrator or the hook does);
//! the hook's answer always wins.

use mobile_session_proto::Status;
use serde_json::{Map, Value};

use crate::config::{Policy, SignInMode};
use crate::hook::Answer;

pub const ACCEPTED_TEXT: &str = "Accepted: this device is signed in.";
pub const PENDING_TEXT: &str = "This device is awaiting validation: an administrator must accept it (or you follow the link sent by e-mail), then sign in again.";
pub const REFUSED_TEXT: &str = "Sign-in refused.";
pub const HOOK_FAILED_TEXT: &str = "Sign-in is not available right now; please try again later.";
pub const NOT_ALLOWED_TEXT: &str = "This e-mail address may not sign in to this app.";
pub const CLOSED_TEXT: &str = "Sign-in to this app is closed.";
pub const NOT_CONFIGURED_TEXT: &str =
    "Sign-in is not configured on this server: an administrator must open it first.";

/// What the hook or the rules say of one sign-in.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Admit(Admission),
    Refuse {
        status_text: String,
        user_info: Option<Map<String, Value>>,
    },
}

/// A sign-in that may go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The session starts (or, decided by the hook, is) pending.
    pub verify: bool,
    /// The text for the app; a default for the status when `None`.
    pub status_text: Option<String>,
    /// Stored in the session file and returned to the app.
    pub user_info: Option<Map<String, Value>>,
    /// The hook decided: its answer wins over the stored status.
    pub by_hook: bool,
}

impl Admission {
    /// The status this admission decides, before the disk has its say.
    pub fn decided(&self) -> Status {
        if self.verify {
            Status::Pending
        } else {
            Status::Accepted
        }
    }

    /// The text the app shows for a session that ends up `status`: the
    /// decision's own when the status is the one it decided (an accepted
    /// session kept accepted is not told it awaits validation).
    pub fn text_for(&self, status: Status) -> String {
        match &self.status_text {
            Some(text) if status == self.decided() => text.clone(),
            _ => default_text(status).to_string(),
        }
    }
}

pub fn default_text(status: Status) -> &'static str {
    match status {
        Status::Accepted => ACCEPTED_TEXT,
        Status::Pending => PENDING_TEXT,
    }
}

/// The decision of the static rules for a request with `email`.
pub fn by_rules(policy: &Policy, email: &str) -> Decision {
    let refuse = |text: &str| Decision::Refuse {
        status_text: text.to_string(),
        user_info: None,
    };
    let allowed = listed(&policy.allow_email_domains, email);
    if !policy.allow_email_domains.is_empty() && !allowed {
        return refuse(NOT_ALLOWED_TEXT);
    }
    match policy.sign_in {
        Some(SignInMode::Open) => {}
        _ if allowed => {}
        Some(SignInMode::Closed) => return refuse(CLOSED_TEXT),
        None => return refuse(NOT_CONFIGURED_TEXT),
    }
    let verify = if policy.accept_email_domains.is_empty() {
        policy.verify
    } else {
        !listed(&policy.accept_email_domains, email)
    };
    Decision::Admit(Admission {
        verify,
        status_text: None,
        user_info: None,
        by_hook: false,
    })
}

/// The decision a hook's answer gives.
pub fn by_hook(answer: Answer) -> Decision {
    if answer.success {
        Decision::Admit(Admission {
            verify: answer.verify,
            status_text: answer.status_text,
            user_info: answer.user_info,
            by_hook: true,
        })
    } else {
        Decision::Refuse {
            status_text: answer.status_text.unwrap_or_else(|| REFUSED_TEXT.into()),
            user_info: answer.user_info,
        }
    }
}

/// A hook that gave no usable answer refuses (fail closed); the app is
/// told no more than that it failed.
pub fn hook_failed() -> Decision {
    Decision::Refuse {
        status_text: HOOK_FAILED_TEXT.to_string(),
        user_info: None,
    }
}

/// The session a sign-in finds on disk for its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    pub status: Status,
    /// The request's e-mail differs from the file's.
    pub email_changed: bool,
}

/// The status of an admitted sign-in. The hook's answer wins. Under the
/// rules, a new session is as decided; an existing one keeps its stored
/// status — a pending one stays pending, an accepted one stays accepted —
/// except that an accepted session whose e-mail changed is decided as if
/// new (so it may be held back, never promoted).
pub fn status_of(admission: &Admission, existing: Option<Existing>) -> Status {
    let decided = admission.decided();
    if admission.by_hook {
        return decided;
    }
    match existing {
        None => decided,
        Some(Existing {
            status: Status::Pending,
            ..
        }) => Status::Pending,
        Some(Existing {
            status: Status::Accepted,
            email_changed,
        }) => {
            if email_changed {
                decided
            } else {
                Status::Accepted
            }
        }
    }
}

/// Whether the e-mail `sent` (`None`: the request has none, so nothing
/// changes) differs from the one `stored`; case and blanks aside.
pub fn email_changed(stored: Option<&str>, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| {
        !sent
            .trim()
            .eq_ignore_ascii_case(stored.unwrap_or("").trim())
    })
}

/// Whether `email`'s domain is one of `domains` (`"example.com"` or
/// `"@example.com"`, any case). Sub-domains are not included.
fn listed(domains: &[String], email: &str) -> bool {
    let Some((_, domain)) = email.trim().rsplit_once('@') else {
        return false;
    };
    !domain.is_empty()
        && domains.iter().any(|d| {
            d.trim()
                .trim_start_matches('@')
                .eq_ignore_ascii_case(domain)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml: &str) -> Policy {
        crate::config::Config::parse(&format!("[policy]\n{toml}"))
            .unwrap()
            .policy
    }

    fn admitted(d: Decision) -> Option<bool> {
        match d {
            Decision::Admit(a) => Some(a.verify),
            Decision::Refuse { .. } => None,
        }
    }

    fn refusal(d: Decision) -> String {
        match d {
            Decision::Refuse { status_text, .. } => status_text,
            Decision::Admit(a) => panic!("admitted: {a:?}"),
        }
    }

    #[test]
    fn unconfigured_refuses_everyone() {
        let p = Policy::default();
        assert!(!p.is_configured());
        assert_eq!(refusal(by_rules(&p, "")), NOT_CONFIGURED_TEXT);
        assert_eq!(refusal(by_rules(&p, "x@y.z")), NOT_CONFIGURED_TEXT);
        // verify or accept rules alone open nothing.
        for p in [
            policy("verify = true"),
            policy("accept_email_domains = [\"y.z\"]"),
        ] {
            assert!(!p.is_configured());
            assert_eq!(refusal(by_rules(&p, "x@y.z")), NOT_CONFIGURED_TEXT);
        }
        assert!(policy("hook = [\"/bin/true\"]").is_configured());
        assert!(!policy("sign_in = \"closed\"").is_configured());
    }

    #[test]
    fn open_admits_everyone_accepted_unless_verify() {
        let p = policy("sign_in = \"open\"");
        assert!(p.is_configured());
        assert_eq!(admitted(by_rules(&p, "")), Some(false));
        assert_eq!(admitted(by_rules(&p, "x@y.z")), Some(false));
        assert_eq!(
            admitted(by_rules(
                &policy("sign_in = \"open\"\nverify = true"),
                "x@y.z"
            )),
            Some(true)
        );
    }

    #[test]
    fn accept_domains_accept_at_once_and_hold_back_the_rest() {
        let p =
            policy("sign_in = \"open\"\naccept_email_domains = [\"example.com\", \"@corp.test\"]");
        assert_eq!(admitted(by_rules(&p, "li@Example.COM")), Some(false));
        assert_eq!(admitted(by_rules(&p, " ana@corp.test ")), Some(false));
        assert_eq!(admitted(by_rules(&p, "mallory@evil.test")), Some(true));
        assert_eq!(admitted(by_rules(&p, "x@sub.example.com")), Some(true));
        assert_eq!(admitted(by_rules(&p, "example.com")), Some(true));
        assert_eq!(admitted(by_rules(&p, "")), Some(true));
    }

    #[test]
    fn allow_domains_admit_their_own_and_refuse_the_rest() {
        // An allow rule opens sign-in to its domains on its own.
        let p = policy("allow_email_domains = [\"example.com\"]\nverify = true");
        assert!(p.is_configured());
        assert_eq!(admitted(by_rules(&p, "li@example.com")), Some(true));
        assert_eq!(refusal(by_rules(&p, "mallory@evil.test")), NOT_ALLOWED_TEXT);
        assert_eq!(refusal(by_rules(&p, "")), NOT_ALLOWED_TEXT);
        assert_eq!(
            refusal(by_rules(&p, "li@example.com@evil.test")),
            NOT_ALLOWED_TEXT
        );
    }

    #[test]
    fn closed_admits_only_what_an_allow_rule_admits() {
        let p = policy("sign_in = \"closed\"");
        assert_eq!(refusal(by_rules(&p, "li@example.com")), CLOSED_TEXT);
        let p = policy(
            "sign_in = \"closed\"\nallow_email_domains = [\"example.com\"]\naccept_email_domains = [\"example.com\"]\nverify = true",
        );
        assert_eq!(admitted(by_rules(&p, "li@example.com")), Some(false));
        assert_eq!(refusal(by_rules(&p, "x@other.test")), NOT_ALLOWED_TEXT);
    }

    fn rules(verify: bool) -> Admission {
        Admission {
            verify,
            status_text: None,
            user_info: None,
            by_hook: false,
        }
    }

    #[test]
    fn hook_answers() {
        let answer = |success, verify| Answer {
            success,
            status_text: None,
            user_info: Some(Map::new()),
            verify,
        };
        assert_eq!(admitted(by_hook(answer(true, true))), Some(true));
        assert_eq!(admitted(by_hook(answer(true, false))), Some(false));
        assert_eq!(refusal(by_hook(answer(false, false))), REFUSED_TEXT);
        let mut told = answer(false, false);
        told.status_text = Some("Unknown user".into());
        assert_eq!(refusal(by_hook(told)), "Unknown user");
        assert_eq!(refusal(hook_failed()), HOOK_FAILED_TEXT);
        let mut a = rules(false);
        assert_eq!(a.text_for(Status::Pending), PENDING_TEXT);
        a.status_text = Some("Check your e-mail".into());
        a.verify = true;
        assert_eq!(a.text_for(Status::Pending), "Check your e-mail");
        assert_eq!(a.text_for(Status::Accepted), ACCEPTED_TEXT);
    }

    #[test]
    fn the_stored_status_decides_under_the_rules() {
        use Status::*;
        let existing = |status, email_changed| {
            Some(Existing {
                status,
                email_changed,
            })
        };
        // First sign-in: as decided.
        assert_eq!(status_of(&rules(false), None), Accepted);
        assert_eq!(status_of(&rules(true), None), Pending);
        // Pending stays pending: only an admin or the hook accepts it.
        for verify in [false, true] {
            for changed in [false, true] {
                assert_eq!(
                    status_of(&rules(verify), existing(Pending, changed)),
                    Pending
                );
            }
        }
        // Accepted: kept, unless the e-mail changed.
        assert_eq!(status_of(&rules(true), existing(Accepted, false)), Accepted);
        assert_eq!(status_of(&rules(true), existing(Accepted, true)), Pending);
        assert_eq!(status_of(&rules(false), existing(Accepted, true)), Accepted);
    }

    #[test]
    fn the_hook_wins_over_the_stored_status() {
        use Status::*;
        let hook = |verify| Admission {
            by_hook: true,
            ..rules(verify)
        };
        let existing = |status| {
            Some(Existing {
                status,
                email_changed: false,
            })
        };
        assert_eq!(status_of(&hook(false), existing(Pending)), Accepted);
        assert_eq!(status_of(&hook(true), existing(Accepted)), Pending);
        assert_eq!(status_of(&hook(true), None), Pending);
        assert_eq!(status_of(&hook(false), None), Accepted);
    }

    #[test]
    fn e_mail_changes() {
        assert!(!email_changed(Some("a@b.c"), None));
        assert!(!email_changed(Some("a@b.c"), Some(" A@B.C")));
        assert!(email_changed(Some("a@b.c"), Some("m@evil.test")));
        assert!(email_changed(None, Some("a@b.c")));
        assert!(!email_changed(None, Some("")));
    }
}
