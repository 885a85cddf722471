//! JSON Web Tokens signed with ring (the crypto library rustls already
//! uses): ES256 provider tokens for APNs, signed with the `.p8` key, and
//! RS256 assertions for a Google service account. Also the cache of APNs
//! provider tokens, which Apple wants reused and renewed every 20 to 60
//! minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;

use crate::locks::lock;

/// A provider token is renewed once it is this old (Apple refuses one
/// older than an hour)…
pub const RENEW_AFTER: Duration = Duration::from_secs(50 * 60);
/// …and never sooner than this, even when Apple calls it expired (Apple
/// refuses tokens renewed more often: `TooManyProviderTokenUpdates`).
pub const MIN_AGE: Duration = Duration::from_secs(20 * 60);

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM private key (PKCS#8, \"BEGIN PRIVATE KEY\"): {0}")]
    Pem(String),
    #[error("not a P-256 (ES256) key as APNs wants: {0}")]
    NotEs256(String),
    #[error("not an RSA key: {0}")]
    NotRsa(String),
    #[error("cannot sign: {0}")]
    Sign(String),
}

fn pkcs8(pem: &[u8]) -> Result<PrivatePkcs8KeyDer<'static>, KeyError> {
    PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|e| KeyError::Pem(e.to_string()))
}

/// A private key a JWT is signed with.
#[derive(Clone)]
pub enum SigningKey {
    Es256(Arc<EcdsaKeyPair>),
    Rs256(Arc<RsaKeyPair>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKey::Es256(_) => "SigningKey::Es256(<private>)",
            SigningKey::Rs256(_) => "SigningKey::Rs256(<private>)",
        })
    }
}

impl SigningKey {
    /// An APNs `.p8` key.
    pub fn es256_from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let der = pkcs8(pem)?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .map_err(|e| KeyError::NotEs256(e.to_string()))?;
        Ok(SigningKey::Es256(Arc::new(pair)))
    }

    /// A service account's `private_key`.
    pub fn rs256_from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let der = pkcs8(pem)?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| KeyError::NotRsa(e.to_string()))?;
        Ok(SigningKey::Rs256(Arc::new(pair)))
    }

    fn alg(&self) -> &'static str {
        match self {
            SigningKey::Es256(_) => "ES256",
            SigningKey::Rs256(_) => "RS256",
        }
    }

    /// `header.claims.signature`, each base64url without padding; `alg`
    /// and `typ` are added to `header`.
    pub fn sign(
        &self,
        mut header: serde_json::Map<String, Value>,
        claims: &Value,
    ) -> Result<String, KeyError> {
        header.insert("alg".into(), self.alg().into());
        header.insert("typ".into(), "JWT".into());
        let mut out = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let signature = match self {
            SigningKey::Es256(k) => k
                .sign(&rng, out.as_bytes())
                .map_err(|e| KeyError::Sign(e.to_string()))?
                .as_ref()
                .to_vec(),
            SigningKey::Rs256(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                sig
            }
        };
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(out)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Which provider token: one per key (id, team and the key's bytes, so a
/// replaced key file gets a token of its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderKey {
    pub key_id: String,
    pub team_id: String,
    pub fingerprint: u64,
}

struct Issued {
    jwt: Arc<str>,
    at: Instant,
}

/// APNs provider tokens in use, one per key; the clock is passed in.
#[derive(Default)]
pub struct ProviderTokens {
    issued: Mutex<HashMap<ProviderKey, Issued>>,
}

impl ProviderTokens {
    /// The token for `key`: the one in use while younger than
    /// [`RENEW_AFTER`], else a new one issued at `now` (`unix` seconds).
    pub fn get(
        &self,
        key: &ProviderKey,
        signer: &SigningKey,
        now: Instant,
        unix: u64,
    ) -> Result<Arc<str>, KeyError> {
        let mut issued = lock(&self.issued);
        if let Some(i) = issued.get(key) {
            if now.saturating_duration_since(i.at) < RENEW_AFTER {
                return Ok(i.jwt.clone());
            }
        }
        let mut header = serde_json::Map::new();
        header.insert("kid".into(), key.key_id.clone().into());
        let claims = serde_json::json!({"iss": key.team_id, "iat": unix});
        let jwt: Arc<str> = signer.sign(header, &claims)?.into();
        issued.insert(
            key.clone(),
            Issued {
                jwt: jwt.clone(),
                at: now,
            },
        );
        Ok(jwt)
    }

    /// APNs called `jwt` expired: it is dropped (so the next `get` issues
    /// a new one) if it is still the one in use and at least [`MIN_AGE`]
    /// old. False when it may not be renewed yet: the clocks disagree.
    pub fn expired(&self, key: &ProviderKey, jwt: &str, now: Instant) -> bool {
        let mut issued = lock(&self.issued);
        match issued.get(key) {
            Some(i) if &*i.jwt == jwt => {
                if now.saturating_duration_since(i.at) >= MIN_AGE {
                    issued.remove(key);
                    true
                } else {
                    false
                }
            }
            // Renewed meanwhile by another request.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_push_standin::keys;

    fn claims_of(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key() {
        let key = keys::apns_key();
        let signer = SigningKey::es256_from_pem(key.pem.as_bytes()).unwrap();
        let mut header = serde_json::Map::new();
        header.insert("kid".into(), "KEY1".into());
        let jwt = signer
            .sign(header, &serde_json::json!({"iss": "TEAM", "iat": 1}))
            .unwrap();
        let checked = keys::verify_es256(&jwt, &key.public).unwrap();
        assert_eq!(checked.header["kid"], "KEY1");
        assert_eq!(checked.header["alg"], "ES256");
        assert_eq!(checked.claims["iss"], "TEAM");
        assert!(SigningKey::rs256_from_pem(key.pem.as_bytes()).is_err());
        assert!(SigningKey::es256_from_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        assert!(matches!(
            SigningKey::es256_from_pem(b"hello"),
            Err(KeyError::Pem(_))
        ));
    }

    #[test]
    fn rs256_assertions_verify_with_the_public_key() {
        let signer = SigningKey::rs256_from_pem(keys::SERVICE_ACCOUNT_KEY_PEM.as_bytes()).unwrap();
        let jwt = signer
            .sign(serde_json::Map::new(), &serde_json::json!({"iss": "a@b"}))
            .unwrap();
        let checked = keys::verify_rs256(&jwt, &keys::service_account_public()).unwrap();
        assert_eq!(checked.claims["iss"], "a@b");
        let tampered = jwt.replace(".ey", ".eX");
        assert!(keys::verify_rs256(&tampered, &keys::service_account_public()).is_err());
    }

    #[test]
    fn provider_tokens_are_reused_then_renewed_between_20_and_50_minutes() {
        let signer = SigningKey::es256_from_pem(keys::apns_key().pem.as_bytes()).unwrap();
        let key = ProviderKey {
            key_id: "K".into(),
            team_id: "T".into(),
            fingerprint: 1,
        };
        let tokens = ProviderTokens::default();
        let t0 = Instant::now();
        let min = Duration::from_secs(60);
        let first = tokens.get(&key, &signer, t0, 1_000).unwrap();
        assert_eq!(claims_of(&first)["iat"], 1_000);
        // Reused for the first 50 minutes.
        for m in [1, 19, 20, 35, 49] {
            let again = tokens
                .get(&key, &signer, t0 + min * m, 1_000 + 60 * m as u64)
                .unwrap();
            assert_eq!(again, first, "renewed after {m} min");
        }
        // Renewed at 50.
        let second = tokens.get(&key, &signer, t0 + min * 50, 4_000).unwrap();
        assert_ne!(second, first);
        assert_eq!(claims_of(&second)["iat"], 4_000);
        // Called expired by Apple: not renewed before 20 minutes…
        assert!(!tokens.expired(&key, &second, t0 + min * 60));
        assert_eq!(
            tokens.get(&key, &signer, t0 + min * 60, 4_600).unwrap(),
            second
        );
        // …renewed after.
        assert!(tokens.expired(&key, &second, t0 + min * 70));
        let third = tokens.get(&key, &signer, t0 + min * 70, 5_200).unwrap();
        assert_ne!(third, second);
        // A stale token reported by a slow request renews nothing more.
        assert!(tokens.expired(&key, &second, t0 + min * 71));
        assert_eq!(
            tokens.get(&key, &signer, t0 + min * 71, 5_260).unwrap(),
            third
        );
        // Another key has its own token.
        let other = ProviderKey {
            fingerprint: 2,
            ..key.clone()
        };
        assert_ne!(
            tokens.get(&other, &signer, t0 + min * 71, 5_260).unwrap(),
            third
        );
    }
}
