//! The daemon's TOML configuration (`--config FILE` / `$MOBILE_SESSIOND_CONFIG`).
//!
//! ```toml
//! data_dir = "/var/lib/4d/Data"      # optional, like --data-dir
//! admin_group = "4d-admin"           # may write and push (besides root and our own uid)
//! reader_group = "www-data"          # may read and verify
//! auto_push = false                  # apply each settled change to the live view
//! watcher = "auto"                   # "auto" (inotify/FSEvents, poll on failure) or "poll"
//! settle_ms = 50                     # how long a burst of changes settles
//! poll_interval_ms = 1000            # polling period for watcher = "poll"
//! max_connections = 4096             # clients at once; more are told "busy"
//! idle_timeout_ms = 300000           # close a client idle this long
//! [policy]                           # sign-in defaults for every app
//! verify = false                     # true: new devices start "pending"
//! accept_email_domains = []          # e.g. ["example.com"]: accepted at once, others pending
//! [apps."UTT7VDX8W5.com.contactApp.Contact"]   # a folder name or an app id
//! verify = true
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub admin_group: Option<String>,
    pub reader_group: Option<String>,
    #[serde(default)]
    pub auto_push: bool,
    #[serde(default)]
    pub watcher: WatcherMode,
    pub settle_ms: Option<u64>,
    /// Poll interval when `watcher = "poll"` (or inotify is unavailable).
    pub poll_interval_ms: Option<u64>,
    /// Events queued between the OS watcher and the daemon; past it, a full rescan.
    pub watch_queue: Option<usize>,
    /// Connections served at once (default 4096, and always kept below the
    /// open-file limit); past it a new client is told the daemon is busy.
    pub max_connections: Option<u64>,
    /// A connection that neither sends a request nor reads its answers for
    /// this long is closed (default 300000; `watch` streams are exempt
    /// while they read).
    pub idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub policy: Policy,
    /// Per-app overrides, keyed by folder name or app id.
    #[serde(default)]
    pub apps: BTreeMap<String, AppPolicy>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatcherMode {
    /// The platform's native watcher; polling if it cannot be set up.
    #[default]
    Auto,
    /// Polling, for network file systems.
    Poll,
}

/// The sign-in policy: whether a new device must be validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub verify: bool,
    #[serde(default)]
    pub accept_email_domains: Vec<String>,
}

/// A per-app override; unset fields fall back to `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicy {
    pub verify: Option<bool>,
    pub accept_email_domains: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The policy of one app: its override by folder, else by app id, else the default.
    pub fn policy_for(&self, folder: &str, app_id: &str) -> Policy {
        let o = self.apps.get(folder).or_else(|| self.apps.get(app_id));
        Policy {
            verify: o.and_then(|o| o.verify).unwrap_or(self.policy.verify),
            accept_email_domains: o
                .and_then(|o| o.accept_email_domains.clone())
                .unwrap_or_else(|| self.policy.accept_email_domains.clone()),
        }
    }
}

impl Policy {
    /// Whether a new session for `email` starts pending.
    pub fn starts_pending(&self, email: &str) -> bool {
        if !self.accept_email_domains.is_empty() {
            let domain = email.rsplit_once('@').map(|(_, d)| d.trim());
            let listed = domain.is_some_and(|d| {
                self.accept_email_domains
                    .iter()
                    .any(|a| a.trim_start_matches('@').eq_ignore_ascii_case(d))
            });
            return !listed;
        }
        self.verify
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let c = Config::parse(
            r#"
            [policy]
            verify = false
            [apps."T.com.a"]
            verify = true
            [apps."com.b"]
            accept_email_domains = ["example.com"]
            "#,
        )
        .unwrap();
        assert!(!c.policy_for("X.com.z", "com.z").starts_pending(""));
        assert!(c.policy_for("T.com.a", "com.a").starts_pending("a@b.c"));
        let b = c.policy_for("com.b", "com.b");
        assert!(!b.starts_pending("li@Example.COM"));
        assert!(b.starts_pending("li@evil.com"));
        assert!(b.starts_pending(""));
        assert!(Config::parse("verfy = true").is_err());
    }
}
