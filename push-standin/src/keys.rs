//! Test keys and the JWT checks the stand-ins make: an APNs `.p8` key
//! (P-256, generated per run) and the test service account's RSA key
//! (shipped, see `fixtures/README.md`).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::Value;

/// The test service account's private key (PKCS#8 PEM).
pub const SERVICE_ACCOUNT_KEY_PEM: &str = include_str!("../fixtures/service-account-key.pem");

/// A P-256 key as Apple hands it out (`AuthKey_<KEYID>.p8`).
#[derive(Clone)]
pub struct ApnsKey {
    /// PKCS#8 PEM, "BEGIN PRIVATE KEY".
    pub pem: String,
    /// The uncompressed public point.
    pub public: Vec<u8>,
}

/// A new APNs key.
pub fn apns_key() -> ApnsKey {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("generate a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
        .expect("read the generated key");
    ApnsKey {
        pem: pem("PRIVATE KEY", doc.as_ref()),
        public: pair.public_key().as_ref().to_vec(),
    }
}

/// The public key (DER RSAPublicKey) of the test service account.
pub fn service_account_public() -> Vec<u8> {
    let der = pem_body(SERVICE_ACCOUNT_KEY_PEM).expect("the fixture is PEM");
    let pair = RsaKeyPair::from_pkcs8(&der).expect("the fixture is an RSA PKCS#8 key");
    pair.public().as_ref().to_vec()
}

/// The JSON key file of a service account whose private key is the test
/// key, with `token_uri` pointing at an OAuth stand-in.
pub fn service_account_json(client_email: &str, project_id: &str, token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "0123456789abcdef",
        "private_key": SERVICE_ACCOUNT_KEY_PEM,
        "client_email": client_email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

/// `label` PEM around `der`, 64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64.trim()).ok()
}

/// A JWT whose signature was checked.
#[derive(Debug, Clone)]
pub struct Checked {
    pub header: Value,
    pub claims: Value,
}

fn split(jwt: &str) -> Result<(Value, Value, &str, Vec<u8>), String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three dot-separated parts".into());
    };
    let json = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string())?;
    let signed = &jwt[..h.len() + 1 + c.len()];
    Ok((json(h)?, json(c)?, signed, signature))
}

fn check(jwt: &str, alg: &str, verify: impl Fn(&[u8], &[u8]) -> bool) -> Result<Checked, String> {
    let (header, claims, signed, signature) = split(jwt)?;
    if header["alg"] != alg {
        return Err(format!("alg is {}, not {alg}", header["alg"]));
    }
    if !verify(signed.as_bytes(), &signature) {
        return Err("bad signature".into());
    }
    Ok(Checked { header, claims })
}

/// Checks an ES256 JWT against an APNs public key.
pub fn verify_es256(jwt: &str, public: &[u8]) -> Result<Checked, String> {
    check(jwt, "ES256", |m, s| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(m, s)
            .is_ok()
    })
}

/// Checks an RS256 JWT against an RSA public key (DER RSAPublicKey).
pub fn verify_rs256(jwt: &str, public: &[u8]) -> Result<Checked, String> {
    check(jwt, "RS256", |m, s| {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
            .verify(m, s)
            .is_ok()
    })
}
