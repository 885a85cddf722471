//! An app's push credentials, from `[notify.apps."<folder or app id>"]` or,
//! for APNs as 4D does it, from the one `AuthKey_<KEYID>.p8` in the app's
//! folder. Key files are read here, by the daemon, on the blocking pool;
//! their bytes stay in memory only as signing keys.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::http::Endpoint;
use super::jwt::{ProviderKey, SigningKey};
use super::settings::{
    ApnsEnvironment, NotifyApp, NotifySettings, APNS_DEVELOPMENT, APNS_PRODUCTION, FCM_DEFAULT,
};
use crate::model::app::AppLabel;

/// A key or service account file larger than this is not one.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// Google's token endpoint, when a service account names none.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Credentials that are missing or cannot be used; the message names the
/// setting to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CredError(pub String);

/// What APNs requests of one app are sent with.
#[derive(Debug, Clone)]
pub struct ApnsCredentials {
    pub signer: SigningKey,
    pub key: ProviderKey,
    /// `apns-topic`: the app's bundle id.
    pub topic: String,
    pub endpoint: Endpoint,
}

/// What FCM requests of one app are sent with.
#[derive(Debug, Clone)]
pub struct FcmCredentials {
    pub signer: SigningKey,
    pub client_email: String,
    /// The OAuth token endpoint, and its URL as the assertion's `aud`.
    pub token_endpoint: Endpoint,
    pub token_path: String,
    pub token_uri: String,
    pub project_id: String,
    pub endpoint: Endpoint,
}

/// How the config names this app's table, for messages.
fn table(name: &str) -> String {
    format!("[notify.apps.{name:?}]")
}

/// Reads a key file: a regular file (no symlink followed), not too large.
fn read_key_file(path: &Path, key: &str, table: &str) -> Result<Vec<u8>, CredError> {
    let fail = |why: String| {
        CredError(format!(
            "cannot read {key} {} ({table}): {why}",
            path.display()
        ))
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail(e.to_string()))?;
    let meta = file.metadata().map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(fail(format!("{} bytes is too large for a key", meta.len())));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    Ok(bytes)
}

/// The key id in an `AuthKey_<KEYID>.p8` file name.
pub fn key_id_of(file_name: &str) -> Option<&str> {
    let id = file_name.strip_prefix("AuthKey_")?.strip_suffix(".p8")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

/// The `AuthKey_*.p8` files of an app folder (4D's place for the key).
fn keys_in_folder(folder_path: &Path) -> Vec<PathBuf> {
    // Never through a symlink out of MobileApps.
    let real_dir = std::fs::symlink_metadata(folder_path).is_ok_and(|m| m.is_dir());
    let Some(entries) = real_dir
        .then(|| std::fs::read_dir(folder_path).ok())
        .flatten()
    else {
        return Vec::new();
    };
    let mut keys: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().and_then(key_id_of).is_some())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    keys.sort();
    keys
}

fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hasher};
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// The APNs credentials of the app in `folder_path` (its folder name is
/// `folder`, its label `label`).
pub fn apns(
    settings: &NotifySettings,
    folder: &str,
    folder_path: &Path,
    label: &AppLabel,
) -> Result<ApnsCredentials, CredError> {
    let (name, app) = settings.app(folder, &label.app_id);
    let t = table(&name);
    let (path, from_config) = match &app.apns_key_file {
        Some(p) => (p.clone(), true),
        None => match keys_in_folder(folder_path).as_slice() {
            [one] => (one.clone(), false),
            [] => {
                return Err(CredError(format!(
                    "no APNs key for {folder}: set apns_key_file (and apns_key_id) in {t} of the \
                     daemon's config, or put Apple's AuthKey_<KEYID>.p8 in {}",
                    folder_path.display()
                )))
            }
            several => {
                return Err(CredError(format!(
                    "{} AuthKey_*.p8 files in {}: set apns_key_file in {t} to the one to use",
                    several.len(),
                    folder_path.display()
                )))
            }
        },
    };
    let key_name = if from_config {
        "apns_key_file"
    } else {
        "the APNs key"
    };
    let bytes = read_key_file(&path, key_name, &t)?;
    let signer = SigningKey::es256_from_pem(&bytes).map_err(|e| {
        CredError(format!(
            "{key_name} {} ({t}) is not usable: {e}",
            path.display()
        ))
    })?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let key_id = match (&app.apns_key_id, key_id_of(file_name)) {
        (Some(id), _) => id.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => {
            return Err(CredError(format!(
                "no APNs key id for {folder}: set apns_key_id in {t} (the file name {file_name:?} \
                 is not AuthKey_<KEYID>.p8)"
            )))
        }
    };
    let team_id = app
        .apns_team_id
        .clone()
        .or_else(|| label.team_id.clone().filter(|t| !t.is_empty()))
        .ok_or_else(|| {
            CredError(format!(
                "no APNs team id for {folder} (its folder has no team): set apns_team_id in {t}"
            ))
        })?;
    Ok(ApnsCredentials {
        signer,
        key: ProviderKey {
            key_id,
            team_id,
            fingerprint: fingerprint(&bytes),
        },
        topic: label.app_id.clone(),
        endpoint: apns_endpoint(settings, &app)?,
    })
}

fn apns_endpoint(settings: &NotifySettings, app: &NotifyApp) -> Result<Endpoint, CredError> {
    let url = settings.apns_url.clone().unwrap_or_else(|| {
        match app.apns_environment.unwrap_or_default() {
            ApnsEnvironment::Production => APNS_PRODUCTION,
            ApnsEnvironment::Development => APNS_DEVELOPMENT,
        }
        .to_string()
    });
    Endpoint::parse(&url).map_err(|e| CredError(format!("[notify] apns_url: {e}")))
}

#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

/// The FCM credentials of the app of `folder` (app id `app_id`).
pub fn fcm(
    settings: &NotifySettings,
    folder: &str,
    app_id: &str,
) -> Result<FcmCredentials, CredError> {
    let (name, app) = settings.app(folder, app_id);
    let t = table(&name);
    let Some(path) = &app.fcm_service_account else {
        return Err(CredError(format!(
            "no FCM credentials for {folder}: set fcm_service_account in {t} of the daemon's \
             config to the JSON key of a Google service account allowed to send with Firebase \
             Cloud Messaging (the legacy server key is retired)"
        )));
    };
    let bytes = read_key_file(path, "fcm_service_account", &t)?;
    let bad = |why: &str| {
        CredError(format!(
            "fcm_service_account {} ({t}) is not a service account key: {why}",
            path.display()
        ))
    };
    let sa: ServiceAccount = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
    if sa.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err(bad("its type is not \"service_account\""));
    }
    let private_key = sa.private_key.ok_or_else(|| bad("no private_key"))?;
    let client_email = sa.client_email.ok_or_else(|| bad("no client_email"))?;
    let signer = SigningKey::rs256_from_pem(private_key.as_bytes())
        .map_err(|e| bad(&format!("private_key: {e}")))?;
    let token_uri = sa.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.into());
    let token_endpoint =
        Endpoint::parse(&token_uri).map_err(|e| bad(&format!("token_uri: {e}")))?;
    let token_path = token_uri
        .strip_prefix("https://")
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let project_id = app
        .fcm_project_id
        .clone()
        .or(sa.project_id)
        .ok_or_else(|| bad(&format!("no project_id: set fcm_project_id in {t}")))?;
    let url = settings
        .fcm_url
        .clone()
        .unwrap_or_else(|| FCM_DEFAULT.into());
    let endpoint =
        Endpoint::parse(&url).map_err(|e| CredError(format!("[notify] fcm_url: {e}")))?;
    Ok(FcmCredentials {
        signer,
        client_email,
        token_endpoint: Endpoint {
            base: String::new(),
            ..token_endpoint
        },
        token_path,
        token_uri,
        project_id,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_push_standin::keys;

    fn label(team: Option<&str>) -> AppLabel {
        AppLabel {
            app_id: "com.a".into(),
            name: None,
            team_id: team.map(str::to_string),
        }
    }

    #[test]
    fn the_4d_key_in_the_folder_and_the_config_key() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("T1.com.a");
        std::fs::create_dir(&folder).unwrap();
        let s = NotifySettings::default();
        let e = apns(&s, "T1.com.a", &folder, &label(Some("T1"))).unwrap_err();
        assert!(
            e.0.contains("apns_key_file") && e.0.contains("AuthKey_<KEYID>.p8"),
            "{e}"
        );
        std::fs::write(folder.join("AuthKey_ABC123.p8"), keys::apns_key().pem).unwrap();
        let c = apns(&s, "T1.com.a", &folder, &label(Some("T1"))).unwrap();
        assert_eq!(
            (c.key.key_id.as_str(), c.key.team_id.as_str()),
            ("ABC123", "T1")
        );
        assert_eq!(c.topic, "com.a");
        assert_eq!(c.endpoint.host, "api.push.apple.com");
        // Two keys: which one is the config's to say.
        std::fs::write(folder.join("AuthKey_DEF456.p8"), keys::apns_key().pem).unwrap();
        let e = apns(&s, "T1.com.a", &folder, &label(Some("T1"))).unwrap_err();
        assert!(e.0.contains("2 AuthKey_*.p8"), "{e}");
        // The config's key, id and team, by app id; development.
        let other = dir.path().join("key.pem");
        std::fs::write(&other, keys::apns_key().pem).unwrap();
        let s: NotifySettings = toml::from_str(&format!(
            "[apps.\"com.a\"]\napns_key_file = {:?}\napns_environment = \"development\"\n",
            other
        ))
        .unwrap();
        let e = apns(&s, "T1.com.a", &folder, &label(Some("T1"))).unwrap_err();
        assert!(
            e.0.contains("set apns_key_id in [notify.apps.\"com.a\"]"),
            "{e}"
        );
        let s: NotifySettings = toml::from_str(&format!(
            "[apps.\"com.a\"]\napns_key_file = {other:?}\napns_key_id = \"K9\"\napns_team_id = \"T9\"\napns_environment = \"development\"\n",
        ))
        .unwrap();
        let c = apns(&s, "T1.com.a", &folder, &label(Some("T1"))).unwrap();
        assert_eq!(
            (c.key.key_id.as_str(), c.key.team_id.as_str()),
            ("K9", "T9")
        );
        assert_eq!(c.endpoint.host, "api.sandbox.push.apple.com");
    }

    #[test]
    fn unusable_apns_keys_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("com.a");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("AuthKey_ABC.p8"), "garbage").unwrap();
        let e = apns(&NotifySettings::default(), "com.a", &folder, &label(None)).unwrap_err();
        assert!(e.0.contains("not usable"), "{e}");
        std::fs::write(folder.join("AuthKey_ABC.p8"), keys::apns_key().pem).unwrap();
        let e = apns(&NotifySettings::default(), "com.a", &folder, &label(None)).unwrap_err();
        assert!(e.0.contains("set apns_team_id"), "{e}");
        // A symlink is not followed.
        let real = dir.path().join("real.p8");
        std::fs::write(&real, keys::apns_key().pem).unwrap();
        let link = dir.path().join("AuthKey_LNK.p8");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let s: NotifySettings = toml::from_str(&format!(
            "[apps.\"com.a\"]\napns_key_file = {link:?}\napns_team_id = \"T\"\n"
        ))
        .unwrap();
        assert!(apns(&s, "com.a", &folder, &label(None)).is_err());
    }

    #[test]
    fn service_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let e = fcm(&NotifySettings::default(), "com.a", "com.a").unwrap_err();
        assert!(
            e.0.contains("set fcm_service_account in [notify.apps.\"com.a\"]"),
            "{e}"
        );
        let sa = dir.path().join("sa.json");
        std::fs::write(
            &sa,
            keys::service_account_json(
                "s@p.iam.gserviceaccount.com",
                "p-1",
                "https://localhost:9/token",
            ),
        )
        .unwrap();
        let s: NotifySettings = toml::from_str(&format!(
            "fcm_url = \"https://localhost:8\"\n[apps.\"com.a\"]\nfcm_service_account = {sa:?}\n"
        ))
        .unwrap();
        let c = fcm(&s, "com.a", "com.a").unwrap();
        assert_eq!(c.project_id, "p-1");
        assert_eq!(c.client_email, "s@p.iam.gserviceaccount.com");
        assert_eq!(
            (c.token_endpoint.port, c.token_path.as_str()),
            (9, "/token")
        );
        assert_eq!(c.endpoint.port, 8);
        std::fs::write(&sa, r#"{"type":"service_account","client_email":"x"}"#).unwrap();
        let e = fcm(&s, "com.a", "com.a").unwrap_err();
        assert!(e.0.contains("no private_key"), "{e}");
        std::fs::write(&sa, r#"{"type":"authorized_user"}"#).unwrap();
        assert!(fcm(&s, "com.a", "com.a").is_err());
    }
}
