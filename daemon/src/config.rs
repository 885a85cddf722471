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
//! write_grace_ms = 2000              # a file still being written keeps its last good content this long
//! max_connections = 4096             # clients at once; more are told "busy"
//! idle_timeout_ms = 300000           # close a client idle this long
//! max_hooks = 32                     # sign-in hooks at once (default 16 per core)
//! hook_env = ["LDAP_URI", "LDAP_*"]  # the daemon's variables hooks also get
//! session_id = "hex40"               # new session ids: "hex40" or "uuid" (4D v20+)
//! file_mode = "0660"                 # new session files (their folders follow)
//! state_dir = "/var/lib/mobile-sessiond"  # the daemon's own state (like --state-dir)
//! last_seen = true                   # record when each session was last seen
//! history_max_bytes = 16777216       # the history file is rotated past this
//! on_push = ["/usr/local/bin/refresh-4d"]  # run after each push that changed the live view
//! on_push_timeout_ms = 10000         # then killed
//! [policy]                           # sign-in defaults for every app
//! hook = ["/etc/mobile-sessiond/hook", "--strict"]  # decides each sign-in alone
//! hook_timeout_ms = 5000             # a slower hook refuses the sign-in
//! sign_in = "open"                   # unset or "closed": only the hook or allow_email_domains admit
//! allow_email_domains = []           # non-empty: other domains are refused
//! accept_email_domains = []          # e.g. ["example.com"]: accepted at once, others pending
//! verify = false                     # true: new devices start "pending"
//! [apps."UTT7VDX8W5.com.contactApp.Contact"]   # a folder name or an app id
//! verify = true
//! hook = []                          # this app: no hook
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
    /// How long a session file that a writer still has open may read as
    /// invalid (empty, half written) before that is taken: until then it
    /// keeps its last good content (default 2000; 0 takes it at once).
    pub write_grace_ms: Option<u64>,
    /// Connections served at once (default 4096, and always kept below the
    /// open-file limit); past it a new client is told the daemon is busy.
    pub max_connections: Option<u64>,
    /// A connection that neither sends a request nor reads its answers for
    /// this long is closed (default 300000; `watch` streams are exempt
    /// while they read).
    pub idle_timeout_ms: Option<u64>,
    /// Sign-in hooks running at once (default 16 per core, 16 to 256, and
    /// always kept within the open-file limit); a sign-in beyond waits for
    /// a place at most its `hook_timeout_ms`, then is told the server is busy.
    pub max_hooks: Option<u64>,
    /// The daemon's environment variables every hook gets besides its
    /// clean environment: names, or prefixes ending in `*`. A policy's own
    /// `hook_env` adds to these.
    #[serde(default)]
    pub hook_env: Vec<String>,
    /// How new session ids look.
    #[serde(default)]
    pub session_id: SessionIdFormat,
    /// The mode of the session files the daemon creates (default 0660: the
    /// folder's group — the 4D server's — reads and writes them).
    pub file_mode: Option<FileMode>,
    #[serde(default)]
    pub policy: Policy,
    /// Per-app overrides, keyed by folder name or app id.
    #[serde(default)]
    pub apps: BTreeMap<String, AppPolicy>,
    /// Push notifications: endpoints, trusted CA, per-app credentials.
    #[serde(default)]
    pub notify: crate::notify::settings::NotifySettings,
    /// The daemon's own state (last seen, blocks, history), like
    /// `--state-dir`; never inside `MobileApps`.
    pub state_dir: Option<PathBuf>,
    /// Record when each session was last seen (default true).
    pub last_seen: Option<bool>,
    /// The history file's size past which it is rotated.
    pub history_max_bytes: Option<u64>,
    /// A program (and its arguments) run after every push that changed
    /// the live view, the push's report on its standard input.
    #[serde(default)]
    pub on_push: Vec<String>,
    /// How long `on_push` may run before it is killed.
    pub on_push_timeout_ms: Option<u64>,
}

/// How long `on_push` may run when `on_push_timeout_ms` is not set.
pub const DEFAULT_ON_PUSH_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatcherMode {
    /// The platform's native watcher; polling if it cannot be set up.
    #[default]
    Auto,
    /// Polling, for network file systems.
    Poll,
}

/// How new session ids look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum SessionIdFormat {
    /// 40 lower-case hex characters, as 4D has long made them.
    #[default]
    #[serde(rename = "hex40")]
    Hex40,
    /// 32 upper-case hex characters, a 4D session UUID (4D v20+).
    #[serde(rename = "uuid")]
    Uuid,
}

/// Whether a sign-in the hook or an allow rule does not admit may go on.
/// Unset, it may not: sign-in is closed until configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInMode {
    /// Everyone may sign in, subject to the other rules.
    Open,
    /// Only what the hook or `allow_email_domains` admits.
    Closed,
}

/// The mode of a new session file: `"0660"` (octal, as for chmod), owner
/// read and write at least, no execute or special bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct FileMode(u32);

impl FileMode {
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl TryFrom<String> for FileMode {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let digits = text.strip_prefix("0o").unwrap_or(&text);
        let mode = (!digits.is_empty() && digits.len() <= 4)
            .then(|| u32::from_str_radix(digits, 8).ok())
            .flatten()
            .ok_or_else(|| format!("file_mode = {text:?} is not an octal mode such as \"0660\""))?;
        if mode & !0o666 != 0 || mode & 0o600 != 0o600 {
            return Err(format!(
                "file_mode = {text:?} must give the owner read and write and nothing beyond \
                 read and write (0600 to 0666)"
            ));
        }
        Ok(Self(mode))
    }
}

/// The largest `max_hooks` accepted.
pub const MAX_MAX_HOOKS: u64 = 4096;

/// How long a hook may take when `hook_timeout_ms` is not set.
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 5000;
/// The longest `hook_timeout_ms` accepted: a sign-in waits that long at most.
pub const MAX_HOOK_TIMEOUT_MS: u64 = 120_000;

/// The sign-in policy of one app (`[policy]`, or resolved for one app by
/// [`Config::policy_for`]). How it decides: `cmd::signin::decision`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The program (and its arguments) that decides each sign-in; when set
    /// it alone decides. Run without a shell. Empty: no hook.
    #[serde(default)]
    pub hook: Vec<String>,
    #[serde(default = "default_hook_timeout")]
    pub hook_timeout_ms: u64,
    /// The daemon's environment variables the hook gets besides its clean
    /// environment (names, or prefixes ending in `*`); resolved for one app
    /// by [`Config::policy_for`], the top-level `hook_env` comes too.
    #[serde(default)]
    pub hook_env: Vec<String>,
    /// Unset: closed until configured.
    #[serde(default)]
    pub sign_in: Option<SignInMode>,
    /// Non-empty: e-mails of other domains are refused.
    #[serde(default)]
    pub allow_email_domains: Vec<String>,
    /// Non-empty: e-mails of these domains are accepted at once, others pending.
    #[serde(default)]
    pub accept_email_domains: Vec<String>,
    /// New devices start "pending".
    #[serde(default)]
    pub verify: bool,
}

fn default_hook_timeout() -> u64 {
    DEFAULT_HOOK_TIMEOUT_MS
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            hook: Vec::new(),
            hook_timeout_ms: DEFAULT_HOOK_TIMEOUT_MS,
            hook_env: Vec::new(),
            sign_in: None,
            allow_email_domains: Vec::new(),
            accept_email_domains: Vec::new(),
            verify: false,
        }
    }
}

impl Policy {
    /// Whether this policy may admit anyone at all: a hook,
    /// `sign_in = "open"`, or an allow rule.
    pub fn is_configured(&self) -> bool {
        !self.hook.is_empty()
            || self.sign_in == Some(SignInMode::Open)
            || !self.allow_email_domains.is_empty()
    }
}

/// A per-app override; unset fields fall back to `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPolicy {
    /// `[]` turns the default hook off for this app.
    pub hook: Option<Vec<String>>,
    pub hook_timeout_ms: Option<u64>,
    pub hook_env: Option<Vec<String>>,
    pub sign_in: Option<SignInMode>,
    pub allow_email_domains: Option<Vec<String>>,
    pub accept_email_domains: Option<Vec<String>>,
    pub verify: Option<bool>,
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
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// What TOML types cannot say: a hook names a program, a timeout is
    /// neither zero nor endless.
    fn check(&self) -> Result<(), String> {
        let ranges: [(&str, Option<u64>, u64, u64); 9] = [
            ("settle_ms", self.settle_ms, 1, 60_000),
            ("write_grace_ms", self.write_grace_ms, 0, 600_000),
            ("poll_interval_ms", self.poll_interval_ms, 10, 3_600_000),
            (
                "watch_queue",
                self.watch_queue.map(|q| q as u64),
                1,
                1 << 24,
            ),
            ("max_connections", self.max_connections, 1, 1 << 20),
            ("idle_timeout_ms", self.idle_timeout_ms, 100, 86_400_000),
            ("max_hooks", self.max_hooks, 1, MAX_MAX_HOOKS),
            ("history_max_bytes", self.history_max_bytes, 4096, 1 << 40),
            ("on_push_timeout_ms", self.on_push_timeout_ms, 1, 3_600_000),
        ];
        for (key, value, min, max) in ranges {
            if let Some(v) = value {
                if !(min..=max).contains(&v) {
                    return Err(format!("{key} = {v} is out of range ({min} to {max})"));
                }
            }
        }
        let every_hook_env = self
            .apps
            .values()
            .filter_map(|a| a.hook_env.as_ref())
            .chain([&self.hook_env, &self.policy.hook_env])
            .flatten();
        if let Some(bad) = every_hook_env
            .into_iter()
            .find(|e| !crate::hook::env::is_pattern(e))
        {
            return Err(format!(
                "hook_env: {bad:?} is not a variable name (letters, digits and _, not starting \
                 with a digit), or a prefix of one ending in *"
            ));
        }
        let policies = std::iter::once((
            "[policy]".to_string(),
            Some(&self.policy.hook),
            Some(self.policy.hook_timeout_ms),
        ))
        .chain(
            self.apps
                .iter()
                .map(|(k, a)| (format!("[apps.{k:?}]"), a.hook.as_ref(), a.hook_timeout_ms)),
        );
        if self.on_push.first().is_some_and(String::is_empty) {
            return Err("on_push names no program (its first element is empty)".into());
        }
        for (table, hook, timeout) in policies {
            if let Some(program) = hook.and_then(|h| h.first()) {
                if program.is_empty() {
                    return Err(format!(
                        "{table}: hook names no program (its first element is empty)"
                    ));
                }
            }
            if let Some(ms) = timeout {
                if ms == 0 || ms > MAX_HOOK_TIMEOUT_MS {
                    return Err(format!(
                        "{table}: hook_timeout_ms = {ms} is out of range (1 to {MAX_HOOK_TIMEOUT_MS})"
                    ));
                }
            }
        }
        self.notify.check()
    }

    /// The policy of one app: each key from its override by folder, else by
    /// app id, else `[policy]`.
    pub fn policy_for(&self, folder: &str, app_id: &str) -> Policy {
        let o = self.apps.get(folder).or_else(|| self.apps.get(app_id));
        let p = &self.policy;
        Policy {
            hook: o
                .and_then(|o| o.hook.clone())
                .unwrap_or_else(|| p.hook.clone()),
            hook_timeout_ms: o
                .and_then(|o| o.hook_timeout_ms)
                .unwrap_or(p.hook_timeout_ms),
            hook_env: o
                .and_then(|o| o.hook_env.as_ref())
                .unwrap_or(&p.hook_env)
                .iter()
                .chain(&self.hook_env)
                .cloned()
                .collect(),
            sign_in: o.and_then(|o| o.sign_in).or(p.sign_in),
            allow_email_domains: o
                .and_then(|o| o.allow_email_domains.clone())
                .unwrap_or_else(|| p.allow_email_domains.clone()),
            accept_email_domains: o
                .and_then(|o| o.accept_email_domains.clone())
                .unwrap_or_else(|| p.accept_email_domains.clone()),
            verify: o.and_then(|o| o.verify).unwrap_or(p.verify),
        }
    }
}

/// How long a file a writer has open may read as invalid before that is taken.
pub const DEFAULT_WRITE_GRACE: std::time::Duration = std::time::Duration::from_millis(2000);

impl Config {
    pub fn last_seen(&self) -> bool {
        self.last_seen.unwrap_or(true)
    }

    pub fn history_max_bytes(&self) -> u64 {
        self.history_max_bytes
            .unwrap_or(crate::state::audit::DEFAULT_MAX_BYTES)
    }

    pub fn on_push_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.on_push_timeout_ms
                .unwrap_or(DEFAULT_ON_PUSH_TIMEOUT_MS),
        )
    }

    /// The mode of new session files.
    pub fn file_mode(&self) -> u32 {
        self.file_mode
            .map_or(crate::store::share::DEFAULT_FILE_MODE, FileMode::bits)
    }

    /// `write_grace_ms`, or its default.
    pub fn write_grace(&self) -> std::time::Duration {
        self.write_grace_ms
            .map_or(DEFAULT_WRITE_GRACE, std::time::Duration::from_millis)
    }

    /// When `[policy]` admits nobody (no hook, no `sign_in = "open"`, no
    /// `allow_email_domains`): the apps whose own table opens sign-in, by
    /// the name they are keyed by. `None` when `[policy]` is configured.
    pub fn closed_sign_in(&self) -> Option<Vec<&str>> {
        if self.policy.is_configured() {
            return None;
        }
        let open = self
            .apps
            .keys()
            .filter(|k| self.policy_for(k, k).is_configured());
        Some(open.map(String::as_str).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_app_overrides_key_by_key() {
        let c = Config::parse(
            r#"
            session_id = "uuid"
            [policy]
            verify = false
            hook = ["/bin/hook", "-v"]
            hook_timeout_ms = 700
            [apps."T.com.a"]
            verify = true
            [apps."com.b"]
            accept_email_domains = ["example.com"]
            sign_in = "closed"
            hook = []
            "#,
        )
        .unwrap();
        assert_eq!(c.session_id, SessionIdFormat::Uuid);
        let z = c.policy_for("X.com.z", "com.z");
        assert_eq!(z.hook, ["/bin/hook", "-v"]);
        assert_eq!(z.hook_timeout_ms, 700);
        assert!(!z.verify);
        let a = c.policy_for("T.com.a", "com.a");
        assert!(a.verify);
        assert_eq!(a.hook, ["/bin/hook", "-v"]);
        // Keyed by app id when the folder has no entry.
        let b = c.policy_for("com.b", "com.b");
        assert!(b.hook.is_empty());
        assert_eq!(b.sign_in, Some(SignInMode::Closed));
        assert_eq!(z.sign_in, None);
        assert_eq!(b.accept_email_domains, ["example.com"]);
        assert_eq!(b.hook_timeout_ms, 700);
    }

    #[test]
    fn defaults_keep_sign_in_closed_and_files_shared_with_the_group() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.session_id, SessionIdFormat::Hex40);
        assert_eq!(c.policy_for("f", "a"), Policy::default());
        assert_eq!(Policy::default().hook_timeout_ms, DEFAULT_HOOK_TIMEOUT_MS);
        assert_eq!(Policy::default().sign_in, None);
        assert_eq!(c.closed_sign_in(), Some(vec![]));
        assert_eq!(c.file_mode(), 0o660);
    }

    #[test]
    fn hook_limits_and_environment() {
        let c = Config::parse(
            "max_hooks = 3\nhook_env = [\"VAULT_*\"]\n[policy]\nhook_env = [\"LDAP_URI\"]\n\
             [apps.b]\nhook_env = []\n",
        )
        .unwrap();
        assert_eq!(c.max_hooks, Some(3));
        // The top-level list goes to every hook, a policy's adds to it.
        assert_eq!(c.policy_for("a", "a").hook_env, ["LDAP_URI", "VAULT_*"]);
        assert_eq!(c.policy_for("b", "b").hook_env, ["VAULT_*"]);
        let d = Config::parse("").unwrap();
        assert_eq!((d.max_hooks, d.hook_env.len()), (None, 0));
    }

    #[test]
    fn closed_sign_in_names_the_apps_that_open_it() {
        let c = Config::parse(
            "[apps.\"com.a\"]\nsign_in = \"open\"\n[apps.b]\nverify = true\n[apps.c]\nhook = [\"/h\"]\n",
        )
        .unwrap();
        assert_eq!(c.closed_sign_in(), Some(vec!["c", "com.a"]));
        for open in [
            "[policy]\nsign_in = \"open\"",
            "[policy]\nhook = [\"/h\"]",
            "[policy]\nallow_email_domains = [\"x.y\"]",
        ] {
            assert_eq!(
                Config::parse(open).unwrap().closed_sign_in(),
                None,
                "{open}"
            );
        }
    }

    #[test]
    fn file_modes() {
        for (text, bits) in [
            ("0660", 0o660),
            ("640", 0o640),
            ("0o600", 0o600),
            ("0666", 0o666),
        ] {
            let c = Config::parse(&format!("file_mode = \"{text}\"")).unwrap();
            assert_eq!(c.file_mode(), bits, "{text}");
        }
        for bad in [
            "file_mode = \"0770\"",
            "file_mode = \"0460\"",
            "file_mode = \"2660\"",
            "file_mode = \"rw-rw----\"",
            "file_mode = \"\"",
            "file_mode = \"0o\"",
            "file_mode = \"06600\"",
            "file_mode = 432",
        ] {
            let e = Config::parse(bad).unwrap_err();
            assert!(
                e.contains("file_mode") || e.contains("string"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_example_config_parses() {
        let c = Config::parse(include_str!("../../examples/config.toml")).unwrap();
        assert_eq!(c.policy.sign_in, Some(SignInMode::Open));
        assert!(
            c.policy_for("UTT7VDX8W5.com.contactApp.Contact", "x")
                .verify
        );
        assert_eq!(
            c.policy_for("com.sample.tasks", "com.sample.tasks")
                .accept_email_domains,
            ["example.com"]
        );
    }

    #[test]
    fn bad_sign_in_keys_are_refused() {
        for bad in [
            "verfy = true",
            "session_id = \"v4\"",
            "[policy]\nsign_in = \"ajar\"",
            "[policy]\nhook = \"/bin/sh -c x\"",
            "[policy]\nhook = [\"\"]",
            "[policy]\nhook_timeout_ms = 0",
            "[apps.x]\nhook_timeout_ms = 999999999",
            "[apps.x]\nhook = [\"\", \"a\"]",
            "max_hooks = 0",
            "max_hooks = 100000",
            "hook_env = [\"A=B\"]",
            "hook_env = [\"*\"]",
            "hook_env = \"LDAP_URI\"",
            "[policy]\nhook_env = [\"X Y\"]",
            "[apps.x]\nhook_env = [\"1X\"]",
            "on_push = [\"\"]",
            "on_push = \"/bin/refresh\"",
            "on_push_timeout_ms = 0",
            "history_max_bytes = 10",
            "last_seen = \"yes\"",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }
}
