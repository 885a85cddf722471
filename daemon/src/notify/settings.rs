//! The `[notify]` table of the configuration: where the push services are,
//! which extra CA to trust, and each app's credentials.
//!
//! ```toml
//! [notify]
//! ca_file = "/etc/mobile-sessiond/proxy-ca.pem"   # trusted besides the system's roots
//! apns_url = "https://api.push.apple.com"          # default: by apns_environment
//! fcm_url = "https://fcm.googleapis.com"
//! [notify.apps."UTT7VDX8W5.com.contactApp.Contact"]  # a folder name or an app id
//! apns_key_file = "/etc/mobile-sessiond/AuthKey_ABC123DEFG.p8"
//! apns_key_id = "ABC123DEFG"                       # default: from the file name
//! apns_team_id = "UTT7VDX8W5"                      # default: the folder's team
//! apns_environment = "production"                  # or "development"
//! [notify.apps."com.sample.tasks"]
//! fcm_service_account = "/etc/mobile-sessiond/tasks-firebase.json"
//! fcm_project_id = "tasks-1a2b3"                   # default: the account's project_id
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Apple's production endpoint.
pub const APNS_PRODUCTION: &str = "https://api.push.apple.com";
/// Apple's development (sandbox) endpoint.
pub const APNS_DEVELOPMENT: &str = "https://api.sandbox.push.apple.com";
/// Google's FCM HTTP v1 endpoint.
pub const FCM_DEFAULT: &str = "https://fcm.googleapis.com";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// PEM certificates trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Replaces the APNs endpoint of both environments.
    pub apns_url: Option<String>,
    pub fcm_url: Option<String>,
    /// Per-app credentials, keyed by folder name or app id.
    #[serde(default)]
    pub apps: BTreeMap<String, NotifyApp>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    #[default]
    Production,
    Development,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyApp {
    /// The `.p8` key (PKCS#8 PEM) APNs provider tokens are signed with.
    pub apns_key_file: Option<PathBuf>,
    /// Default: taken from a file name `AuthKey_<KEYID>.p8`.
    pub apns_key_id: Option<String>,
    /// Default: the team of the app's folder.
    pub apns_team_id: Option<String>,
    pub apns_environment: Option<ApnsEnvironment>,
    /// A Google service account's JSON key with FCM rights.
    pub fcm_service_account: Option<PathBuf>,
    /// Default: the service account's `project_id`.
    pub fcm_project_id: Option<String>,
}

impl NotifySettings {
    /// The entry of one app: by folder, else by app id, and under which
    /// name (for messages).
    pub fn app(&self, folder: &str, app_id: &str) -> (String, NotifyApp) {
        if let Some(a) = self.apps.get(folder) {
            return (folder.to_string(), a.clone());
        }
        match self.apps.get(app_id) {
            Some(a) => (app_id.to_string(), a.clone()),
            None => (folder.to_string(), NotifyApp::default()),
        }
    }

    /// What TOML types cannot say: URLs are https (or http for a local
    /// test) with a host, ids are plain.
    pub fn check(&self) -> Result<(), String> {
        for (key, url) in [("apns_url", &self.apns_url), ("fcm_url", &self.fcm_url)] {
            if let Some(u) = url {
                crate::notify::http::Endpoint::parse(u)
                    .map_err(|e| format!("[notify] {key} = {u:?}: {e}"))?;
            }
        }
        for (name, app) in &self.apps {
            for (key, value) in [
                ("apns_key_id", &app.apns_key_id),
                ("apns_team_id", &app.apns_team_id),
                ("fcm_project_id", &app.fcm_project_id),
            ] {
                if let Some(v) = value {
                    let plain = !v.is_empty()
                        && v.len() <= 128
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
                    if !plain {
                        return Err(format!(
                            "[notify.apps.{name:?}] {key} = {v:?} is not an id (letters, digits, - _ .)"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_app_by_folder_then_app_id() {
        let s: NotifySettings = toml::from_str(
            r#"
            apns_url = "https://localhost:8443"
            [apps."T.com.a"]
            apns_key_id = "K1"
            apns_environment = "development"
            [apps."com.b"]
            fcm_service_account = "/x.json"
            "#,
        )
        .unwrap();
        s.check().unwrap();
        let (name, a) = s.app("T.com.a", "com.a");
        assert_eq!(name, "T.com.a");
        assert_eq!(a.apns_environment, Some(ApnsEnvironment::Development));
        let (name, b) = s.app("com.b", "com.b");
        assert_eq!(name, "com.b");
        assert!(b.fcm_service_account.is_some());
        assert_eq!(s.app("X.com.z", "com.z").1, NotifyApp::default());
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "apns_url = \"ftp://x\"",
            "fcm_url = \"https://\"",
            "[apps.a]\napns_key_id = \"a/b\"",
            "[apps.a]\napns_environment = \"staging\"",
            "[apps.a]\napns_key = \"x\"",
        ] {
            let parsed: Result<NotifySettings, _> = toml::from_str(bad);
            assert!(
                parsed
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.check())
                    .is_err(),
                "{bad}"
            );
        }
    }
}
