//! `on_push`: a program run after every push that changed the live view,
//! with the push's report on its standard input as `push --json` prints it
//! — to have a 4D server refresh its own sessions, say. It runs as sign-in
//! hooks do ([`super::process`]: no shell, a process group of its own, a
//! clean environment, killed at its timeout and when the daemon stops), one
//! at a time, after the push has answered: it never holds up a push, and
//! its failures are logged, nothing else. The start-up push does not run
//! it (nothing served before it, so nothing changed for anyone).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use mobile_session_proto::{InvalidFile, PushReport};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::process::{self, Spec};
use super::{env, Hooks, MAX_ANSWER, MAX_STDERR_LOGGED};
use crate::config::Config;
use crate::core::Core;

/// Reports waiting for their run; past it, one is dropped (and logged).
pub const QUEUE: usize = 64;

/// Runs `on_push` for each report `core` sends, until the daemon stops.
pub fn start(hooks: Arc<Hooks>, core: Arc<Core>, data_dir: PathBuf) -> JoinHandle<()> {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    core.set_push_listener(Some(tx));
    tokio::spawn(async move {
        loop {
            let report = tokio::select! {
                r = rx.recv() => r,
                () = hooks.stopping.cancelled() => None,
            };
            let Some(report) = report else { break };
            // Read at each push: a reload puts a changed on_push in force.
            let config = core.config();
            run(&hooks, &config, &data_dir, &report).await;
        }
        core.set_push_listener(None);
    })
}

/// The report as `push --json` prints it.
pub fn report_json(report: &PushReport) -> String {
    let files = |list: &[InvalidFile]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|f| json!({"path": f.path, "code": f.code, "error": f.error}))
            .collect()
    };
    let mut v = json!({
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "invalid": files(&report.invalid),
    });
    // As `push --json` shows it: only when a writer held some file back.
    if !report.writing.is_empty() {
        v["writing"] = json!(files(&report.writing));
    }
    v.to_string()
}

async fn run(hooks: &Hooks, config: &Config, data_dir: &std::path::Path, report: &PushReport) {
    let Some((program, args)) = config.on_push.split_first() else {
        return;
    };
    let input = report_json(report);
    let vars = [("MOBILE_SESSIOND_DATA_DIR", OsString::from(data_dir))];
    let spec = Spec {
        program,
        args,
        env: env::for_call(&hooks.base_env, &config.hook_env, &vars),
        input: input.as_bytes(),
        timeout: config.on_push_timeout(),
        limits: (MAX_ANSWER, MAX_STDERR_LOGGED),
    };
    match process::run(spec, &hooks.registry, &hooks.kill).await {
        Ok(done) => {
            super::log_stderr("on_push", &done.stderr);
            if done.status.success() {
                tracing::debug!(program = %program, "on_push ran");
            } else {
                tracing::warn!(program = %program, "on_push failed ({})", done.status);
            }
        }
        Err(super::HookError::TimedOut(ms)) => {
            tracing::warn!(program = %program, "on_push did not end within {ms} ms (on_push_timeout_ms) and was killed")
        }
        Err(e) => tracing::warn!(program = %program, "on_push {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_proto::InvalidFile;

    #[test]
    fn the_report_is_the_push_json() {
        let r = PushReport {
            added: 1,
            updated: 2,
            removed: 3,
            unchanged: 4,
            invalid: vec![InvalidFile {
                path: "/m/A/abcd".into(),
                code: 2,
                error: "not JSON".into(),
            }],
            writing: Vec::new(),
        };
        assert_eq!(
            report_json(&r),
            r#"{"added":1,"updated":2,"removed":3,"unchanged":4,"invalid":[{"path":"/m/A/abcd","code":2,"error":"not JSON"}]}"#
        );
    }
}
