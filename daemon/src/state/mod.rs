//! The daemon's own state, in `state_dir`, never inside `MobileApps`:
//! when each session was last seen ([`seen`]), the devices kept out
//! ([`blocks`]) and the history of changes made through the daemon
//! ([`audit`]). A file that is replaced is written whole to a temporary
//! file, synced and renamed over the old one ([`write_atomic`]); the two
//! append-only files (the last-seen journal, the history) take whole
//! lines in one `write`, and a reader skips a torn last line.
//!
//! Where it is: `--state-dir`, else `state_dir` in the config, else
//! `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else one folder per
//! data dir in the user's state dir (`$XDG_STATE_HOME/mobile-sessiond`,
//! `~/.local/state/mobile-sessiond`), else `/var/lib/mobile-sessiond`.

pub mod audit;
pub mod blocks;
pub mod seen;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What systemd sets to the folder `StateDirectory=` made.
pub const STATE_DIRECTORY_ENV: &str = "STATE_DIRECTORY";
/// The state dir of a daemon with no other choice (no `$HOME`).
pub const SYSTEM_STATE_DIR: &str = "/var/lib/mobile-sessiond";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state dir {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state dir {} is inside MobileApps ({}): the daemon's own state never goes there; give another --state-dir or state_dir", state.display(), apps.display())]
    InsideMobileApps { state: PathBuf, apps: PathBuf },
    #[error("{} is not valid ({message}); it is left as it is: fix or remove it", path.display())]
    Corrupt { path: PathBuf, message: String },
}

impl StateError {
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        move |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Everything the daemon keeps of its own.
pub struct State {
    pub dir: PathBuf,
    pub seen: seen::SeenStore,
    pub blocks: blocks::Blocks,
    pub audit: audit::Audit,
}

impl State {
    /// Opens (and creates) the state dir and reads what it holds. `apps`
    /// is the `MobileApps` folder, which the state dir may not be in.
    pub fn open(
        dir: &Path,
        apps: &Path,
        config: &crate::config::Config,
    ) -> Result<Self, StateError> {
        // Checked before anything is created: a folder made inside
        // MobileApps would be taken for an app's.
        let inside = |d: &Path| d.starts_with(apps);
        if inside(&resolved(dir).map_err(StateError::io(dir))?) {
            return Err(StateError::InsideMobileApps {
                state: dir.to_path_buf(),
                apps: apps.to_path_buf(),
            });
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(StateError::io(dir))?;
        let dir = dir.canonicalize().map_err(StateError::io(dir))?;
        if inside(&dir) {
            return Err(StateError::InsideMobileApps {
                state: dir,
                apps: apps.to_path_buf(),
            });
        }
        remove_temps(&dir);
        Ok(Self {
            seen: seen::SeenStore::open(&dir, config.last_seen())?,
            blocks: blocks::Blocks::open(&dir)?,
            audit: audit::Audit::open(&dir, config.history_max_bytes())?,
            dir,
        })
    }
}

/// Writes last seen down every [`seen::FLUSH_INTERVAL`] until `stop`, then
/// once more (the daemon cancels it once the last connection is done).
pub async fn keep_flushing(
    core: std::sync::Arc<crate::core::Core>,
    state: std::sync::Arc<State>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(seen::FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is at once
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            () = stop.cancelled() => true,
        };
        let (c, s) = (core.clone(), state.clone());
        let flushed = tokio::task::spawn_blocking(move || s.seen.flush(|| session_keys(&c))).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("cannot write last seen in {}: {e}", state.dir.display()),
            Err(e) => tracing::error!("writing last seen failed: {e}"),
        }
        if last {
            return;
        }
    }
}

/// Every session the views know, on disk or live: what a last-seen
/// snapshot keeps.
fn session_keys(core: &crate::core::Core) -> Vec<crate::model::names::SessionKey> {
    use crate::model::names::SessionKey;
    core.read_views(|disk, live| {
        let mut keys: Vec<SessionKey> = disk
            .entries()
            .map(|(folder, e)| SessionKey::new(folder, &e.name))
            .collect();
        keys.extend(live.keys().filter(|k| disk.get(k).is_none()).cloned());
        keys
    })
}

/// Where `dir` is: absolute, component by component, the links of what
/// exists resolved and `..` taken as a creation would take it.
fn resolved(dir: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let mut at = PathBuf::new();
    for c in std::path::absolute(dir)?.components() {
        match c {
            Component::ParentDir => {
                at.pop();
            }
            Component::CurDir => {}
            other => {
                at.push(other);
                if let Ok(real) = at.canonicalize() {
                    at = real;
                }
            }
        }
    }
    Ok(at)
}

/// The state dir, in the order the module says; `data_dir` (resolved)
/// names the per-data-dir folder of the user's default.
pub fn resolve(flag: Option<PathBuf>, config: Option<&Path>, data_dir: &Path) -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = flag.or_else(|| config.map(Path::to_path_buf)) {
        return dir;
    }
    // systemd joins several StateDirectory= folders with ':'; ours is the first.
    if let Some(dirs) = env(STATE_DIRECTORY_ENV) {
        if let Some(first) = dirs.to_string_lossy().split(':').find(|d| !d.is_empty()) {
            return PathBuf::from(first);
        }
    }
    let base = env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local/state")));
    match base {
        Some(base) => base.join("mobile-sessiond").join(per_data_dir(data_dir)),
        None => PathBuf::from(SYSTEM_STATE_DIR),
    }
}

/// A folder name for one data dir: its last component (readable) and a
/// hash of its whole path (unique), so that a user's daemons of different
/// data dirs keep apart.
fn per_data_dir(data_dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    // FNV-1a: stable from run to run, unlike the std hasher.
    let hash = data_dir
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
    let name: String = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{name}-{:012x}", hash & 0xffff_ffff_ffff)
}

/// The temporary files of [`write_atomic`] start so.
const TEMP_PREFIX: &str = ".tmp-";

/// Writes `name` in `dir` whole or not at all: a temporary file (0600),
/// synced, renamed over the old one, the folder synced.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{TEMP_PREFIX}{name}.{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Opens `name` in `dir` for appending, and reading what is there
/// (created 0600, never through a link).
pub fn open_append(dir: &Path, name: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(name))
}

/// Removes temporaries a crash left behind.
fn remove_temps(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// RFC 3339 in UTC with milliseconds, as `watch` prints times.
pub fn rfc3339_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The milliseconds since the epoch of an RFC 3339 time.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

/// A disk that fills up, then is freed, for tests: a file size limit,
/// lowered in a process of its own (no other test may feel it).
#[cfg(test)]
pub(crate) mod full_disk {
    use std::path::Path;

    const CHILD: &str = "MOBILE_SESSIOND_TEST_FULL_DISK_IN";

    /// Runs `check` on a temporary folder in a new run of the test `name`
    /// (its full path), alone in its process; fails if `check` fails.
    pub fn in_own_process(name: &str, check: impl FnOnce(&Path)) {
        if let Some(dir) = std::env::var_os(CHILD) {
            // Past the limit a write fails (EFBIG) rather than kill the process.
            // SAFETY: ignoring a signal.
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
            return check(Path::new(&dir));
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads", "1"])
            .env(CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
    }

    /// Lets this process's files grow to `bytes`, no further.
    pub fn limit(bytes: u64) {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on a local struct.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut l), 0);
            l.rlim_cur = bytes.min(l.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &l), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_one_folder_per_data_dir() {
        let a = per_data_dir(Path::new("/srv/4d/Data"));
        let b = per_data_dir(Path::new("/srv/4d-test/Data"));
        assert!(a.starts_with("Data-") && b.starts_with("Data-"));
        assert_ne!(a, b);
        assert_eq!(a, per_data_dir(Path::new("/srv/4d/Data")));
        assert_eq!(
            resolve(Some("/x".into()), Some(Path::new("/y")), Path::new("/d")),
            PathBuf::from("/x")
        );
        assert_eq!(
            resolve(None, Some(Path::new("/y")), Path::new("/d")),
            PathBuf::from("/y")
        );
    }

    #[test]
    fn a_state_dir_inside_mobileapps_is_refused_before_it_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let apps = dir.path().join("MobileApps");
        std::fs::create_dir(&apps).unwrap();
        let apps = apps.canonicalize().unwrap();
        let config = crate::config::Config::default();
        // Through a link, and through `..`: the same place.
        std::os::unix::fs::symlink(&apps, dir.path().join("link")).unwrap();
        for d in [
            apps.join("state/x"),
            dir.path().join("link/state"),
            dir.path().join("other/../MobileApps/s"),
        ] {
            let e = State::open(&d, &apps, &config).err().expect("refused");
            assert!(matches!(e, StateError::InsideMobileApps { .. }), "{d:?}");
        }
        assert_eq!(std::fs::read_dir(&apps).unwrap().count(), 0, "made inside");
        assert!(State::open(&dir.path().join("state"), &apps, &config).is_ok());
    }

    #[test]
    fn atomic_writes_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "f", b"one").unwrap();
        write_atomic(dir.path(), "f", b"two").unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::write(dir.path().join(".tmp-f.1"), b"x").unwrap();
        remove_temps(dir.path());
        assert!(!dir.path().join(".tmp-f.1").exists());
    }

    #[test]
    fn times_read_back() {
        let ms = 1_700_000_000_123;
        assert_eq!(parse_rfc3339(&rfc3339_ms(ms)), Some(ms));
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
