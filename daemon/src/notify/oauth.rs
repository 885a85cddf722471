//! FCM's bearer access tokens: a service account signs an RS256 assertion
//! (`iss` its client_email, `aud` its token_uri, the FCM scope), the token
//! endpoint exchanges it for an access token, which is kept until shortly
//! before it expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::credentials::FcmCredentials;
use super::http::{Pool, SendError};
use super::jwt::unix_now;
use crate::locks::lock;

pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A token is replaced this long before it expires (half its life when it
/// is short).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);
/// The assertion's lifetime (Google takes at most an hour).
const ASSERTION_LIFETIME: u64 = 3600;

/// Why no access token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The endpoint refused the service account: a configuration error.
    #[error("the token endpoint {uri} refused the service account {email}: {reason}")]
    Refused {
        uri: String,
        email: String,
        reason: String,
    },
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("the token endpoint {uri} answered {reason}")]
    Unavailable { uri: String, reason: String },
    #[error("cannot sign the assertion: {0}")]
    Sign(String),
}

impl TokenError {
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Send(e) => e.is_transient(),
            TokenError::Unavailable { .. } => true,
            TokenError::Refused { .. } | TokenError::Sign(_) => false,
        }
    }
}

struct Cached {
    token: Arc<str>,
    renew_at: Instant,
}

/// Access tokens, one per service account and token endpoint.
#[derive(Default)]
pub struct AccessTokens {
    cached: Mutex<HashMap<(String, String), Cached>>,
    /// One exchange at a time.
    fetching: tokio::sync::Mutex<()>,
}

fn key(c: &FcmCredentials) -> (String, String) {
    (c.client_email.clone(), c.token_uri.clone())
}

impl AccessTokens {
    /// The cached token of `creds` if it is not due for renewal at `now`.
    pub fn cached(&self, creds: &FcmCredentials, now: Instant) -> Option<Arc<str>> {
        lock(&self.cached)
            .get(&key(creds))
            .filter(|c| now < c.renew_at)
            .map(|c| c.token.clone())
    }

    /// Keeps `token`, valid for `expires_in` seconds from `now`.
    pub fn store(
        &self,
        creds: &FcmCredentials,
        token: &str,
        expires_in: u64,
        now: Instant,
    ) -> Arc<str> {
        let life = Duration::from_secs(expires_in);
        let margin = REFRESH_BEFORE.min(life / 2);
        let token: Arc<str> = token.into();
        lock(&self.cached).insert(
            key(creds),
            Cached {
                token: token.clone(),
                renew_at: now + life - margin,
            },
        );
        token
    }

    /// FCM refused `token`: it is not used again.
    pub fn forget(&self, creds: &FcmCredentials, token: &str) {
        let mut cached = lock(&self.cached);
        if cached.get(&key(creds)).is_some_and(|c| &*c.token == token) {
            cached.remove(&key(creds));
        }
    }

    /// A valid access token: the cached one, or a new one from the endpoint.
    pub async fn get(&self, pool: &Pool, creds: &FcmCredentials) -> Result<Arc<str>, TokenError> {
        if let Some(t) = self.cached(creds, Instant::now()) {
            return Ok(t);
        }
        let _one = self.fetching.lock().await;
        if let Some(t) = self.cached(creds, Instant::now()) {
            return Ok(t);
        }
        let (token, expires_in) = exchange(pool, creds).await?;
        tracing::info!(account = %creds.client_email, expires_in, "FCM access token obtained");
        Ok(self.store(creds, &token, expires_in, Instant::now()))
    }
}

/// The signed assertion of the JWT-bearer grant.
pub fn assertion(creds: &FcmCredentials, now: u64) -> Result<String, TokenError> {
    let claims = serde_json::json!({
        "iss": creds.client_email,
        "scope": FCM_SCOPE,
        "aud": creds.token_uri,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
    });
    creds
        .signer
        .sign(serde_json::Map::new(), &claims)
        .map_err(|e| TokenError::Sign(e.to_string()))
}

async fn exchange(pool: &Pool, creds: &FcmCredentials) -> Result<(String, u64), TokenError> {
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
        assertion(creds, unix_now())?
    );
    let request = http::Request::post(creds.token_endpoint.uri(&creds.token_path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .map_err(|e| TokenError::Sign(e.to_string()))?;
    let reply = pool
        .send(&creds.token_endpoint, request, Bytes::from(body))
        .await?;
    super::fcm::token_answer(&reply).map_err(|reason| {
        if reply.status == 429 || reply.status >= 500 {
            TokenError::Unavailable {
                uri: creds.token_uri.clone(),
                reason,
            }
        } else {
            TokenError::Refused {
                uri: creds.token_uri.clone(),
                email: creds.client_email.clone(),
                reason,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::credentials;
    use crate::notify::settings::NotifySettings;
    use mobile_session_push_standin::keys;

    fn creds(dir: &std::path::Path) -> FcmCredentials {
        let sa = dir.join("sa.json");
        std::fs::write(
            &sa,
            keys::service_account_json("s@p", "p", "https://localhost:1/token"),
        )
        .unwrap();
        let s: NotifySettings =
            toml::from_str(&format!("[apps.a]\nfcm_service_account = {sa:?}\n")).unwrap();
        credentials::fcm(&s, "a", "a").unwrap()
    }

    #[test]
    fn tokens_are_kept_until_shortly_before_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let c = creds(dir.path());
        let tokens = AccessTokens::default();
        let t0 = Instant::now();
        assert!(tokens.cached(&c, t0).is_none());
        tokens.store(&c, "ya29.a", 3600, t0);
        let s = Duration::from_secs;
        assert_eq!(tokens.cached(&c, t0 + s(60)).as_deref(), Some("ya29.a"));
        assert_eq!(
            tokens.cached(&c, t0 + s(3600 - 301)).as_deref(),
            Some("ya29.a")
        );
        assert!(tokens.cached(&c, t0 + s(3600 - 300)).is_none());
        // A short-lived token is renewed at half its life.
        tokens.store(&c, "ya29.b", 60, t0);
        assert!(tokens.cached(&c, t0 + s(29)).is_some());
        assert!(tokens.cached(&c, t0 + s(30)).is_none());
        // A refused token is forgotten; forgetting an older one changes nothing.
        tokens.store(&c, "ya29.c", 3600, t0);
        tokens.forget(&c, "ya29.b");
        assert!(tokens.cached(&c, t0).is_some());
        tokens.forget(&c, "ya29.c");
        assert!(tokens.cached(&c, t0).is_none());
    }

    #[test]
    fn the_assertion_is_signed_for_the_token_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let c = creds(dir.path());
        let jwt = assertion(&c, 1_000).unwrap();
        let checked = keys::verify_rs256(&jwt, &keys::service_account_public()).unwrap();
        assert_eq!(checked.claims["iss"], "s@p");
        assert_eq!(checked.claims["aud"], "https://localhost:1/token");
        assert_eq!(checked.claims["scope"], FCM_SCOPE);
        assert_eq!(checked.claims["exp"], 4_600);
    }
}
