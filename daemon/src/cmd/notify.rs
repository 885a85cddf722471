//! `notify APP (--all | --email E… | --session S… | --device-token T…)
//! --title T …`: a push notification to the devices of an app's live
//! sessions, answered in the shape of 4D's `PushNotification` (`success`,
//! `warnings`, `errors`) with one result per session.
//!
//! Three steps: on the blocking pool, the recipients are chosen from the
//! live view and the app's credentials read; on the notify thread, the
//! notifications are sent (`crate::notify`); back on the blocking pool,
//! each token the service called gone is removed from its file by the
//! checked rewrite, only `device.token` changing.

use mobile_session_proto::{
    ErrorCode, Event, EventKind, NotifyCounts, NotifyMessage, NotifyReply, NotifyRequest,
    NotifyResult, NotifyStatus, Platform, Response,
};
use serde_json::{Map, Value};

use super::edit::lookup;
use super::resolve::{resolve_all, resolve_app};
use super::{edit, error, CmdError, Context};
use crate::model::app::folder_label;
use crate::model::json_span::remove_member;
use crate::model::names::SessionKey;
use crate::model::session::{strip_bom, validate};
use crate::notify::recipients::{self, Live, Recipient};
use crate::notify::send::{Job, Outcome};
use crate::notify::{apns, credentials, fcm, http};

/// The largest payload APNs and FCM take.
pub const MAX_PAYLOAD: usize = 4096;

pub async fn run(ctx: &Context, req: NotifyRequest) -> Response {
    match notify(ctx, req).await {
        Ok(reply) => Response::Notified(reply),
        Err(e) => error(e),
    }
}

fn config_error(message: impl Into<String>) -> CmdError {
    CmdError::new(ErrorCode::NotifyConfig, message)
}

/// Runs `f` on the blocking pool.
async fn on_pool<T: Send + 'static>(
    ctx: &Context,
    f: impl FnOnce(&Context) -> T + Send + 'static,
) -> Result<T, CmdError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| CmdError::internal(format!("the command failed: {e}")))
}

/// The custom keys of `--data`, checked.
fn data_of(msg: &NotifyMessage) -> Result<Map<String, Value>, CmdError> {
    let Some(text) = &msg.data else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) if m.contains_key("aps") => Err(CmdError::bad_request(
            "--data may not hold an \"aps\" key: APNs keeps it for the alert",
        )),
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CmdError::bad_request("--data must be a JSON object")),
        Err(e) => Err(CmdError::bad_request(format!("--data is not JSON: {e}"))),
    }
}

/// The request's own faults: who, the title, the data, the size.
fn check(req: &NotifyRequest) -> Result<Map<String, Value>, CmdError> {
    let who = &req.recipients;
    let named = !who.emails.is_empty() || !who.sessions.is_empty() || !who.device_tokens.is_empty();
    if who.all == named {
        return Err(CmdError::bad_request(if who.all {
            "--all cannot be given with --email, --session or --device-token"
        } else {
            "say who to notify: --all, --email E, --session S or --device-token T"
        }));
    }
    if req.message.title.trim().is_empty() {
        return Err(CmdError::bad_request("the title is empty"));
    }
    let data = data_of(&req.message)?;
    let size = apns::body(&req.message, &data).len();
    if size > MAX_PAYLOAD {
        return Err(CmdError::bad_request(format!(
            "the notification is {size} bytes; APNs and FCM take at most {MAX_PAYLOAD}: \
             shorten the title, the body or --data"
        )));
    }
    Ok(data)
}

/// What the blocking step hands on.
struct Plan {
    reply: NotifyReply,
    recipients: Vec<Recipient>,
    job: Option<(std::sync::Arc<http::Pool>, Job)>,
}

fn result(
    folder: &str,
    id: &str,
    platform: Option<Platform>,
    status: NotifyStatus,
    reason: Option<String>,
) -> NotifyResult {
    NotifyResult {
        app: folder.to_string(),
        id: id.to_string(),
        platform,
        status,
        reason,
        token_removed: false,
    }
}

/// Chooses the recipients and reads the credentials.
fn plan(ctx: &Context, req: &NotifyRequest, data: &Map<String, Value>) -> Result<Plan, CmdError> {
    let who = &req.recipients;
    let (folder, label, live, session_ids) = ctx.core.read_views(|disk, live| {
        let folder = resolve_app(disk, live, &req.app)?;
        let label = disk
            .app(&folder)
            .map_or_else(|| folder_label(&folder, None, None), |a| a.label(&folder));
        let mut ids = Vec::new();
        if !who.sessions.is_empty() {
            for t in resolve_all(disk, live, &who.sessions)? {
                if t.folder != folder {
                    return Err(CmdError::bad_request(format!(
                        "session {}/{} is not of app {folder}",
                        t.folder, t.name
                    )));
                }
                ids.push(t.name.to_lowercase());
            }
        }
        let sessions: Vec<(String, std::sync::Arc<_>)> = live
            .keys()
            .filter(|k| k.folder() == folder)
            .filter_map(|k| Some((k.id().to_string(), live.get_key(k)?.clone())))
            .collect();
        Ok::<_, CmdError>((folder, label, sessions, ids))
    })?;
    let lives: Vec<Live<'_>> = live
        .iter()
        .map(|(k, r)| Live {
            key_id: k,
            record: r,
        })
        .collect();
    let has_team = label.team_id.is_some();
    let chosen = recipients::select(&lives, who, &session_ids, req.include_pending, has_team);
    let mut reply = NotifyReply {
        app: folder.clone(),
        dry_run: req.dry_run,
        warnings: chosen.warnings,
        ..Default::default()
    };
    for s in &chosen.skipped {
        let r = result(
            &folder,
            &s.id,
            s.platform,
            NotifyStatus::Skipped,
            Some(s.reason.clone()),
        );
        reply.results.push(r);
    }
    if chosen.recipients.is_empty() && chosen.skipped.is_empty() {
        reply.errors.push(format!(
            "No recipient found: no live session of {folder} matches"
        ));
    }
    let config = ctx.core.config();
    let settings = &config.notify;
    let needs = |p: Platform| chosen.recipients.iter().any(|r| r.platform == p);
    let folder_path = ctx.core.store().root().join(&folder);
    let apns_creds =
        needs(Platform::Ios).then(|| credentials::apns(settings, &folder, &folder_path, &label));
    let fcm_creds =
        needs(Platform::Android).then(|| credentials::fcm(settings, &folder, &label.app_id));
    if req.dry_run {
        for r in &chosen.recipients {
            let d = result(
                &folder,
                &r.id,
                Some(r.platform),
                NotifyStatus::Skipped,
                Some("dry run".into()),
            );
            reply.results.push(d);
        }
        let problems = [
            apns_creds.and_then(Result::err),
            fcm_creds.and_then(Result::err),
        ];
        reply.warnings.extend(
            problems
                .into_iter()
                .flatten()
                .map(|e| format!("not ready to send: {e}")),
        );
        return Ok(Plan {
            reply,
            recipients: Vec::new(),
            job: None,
        });
    }
    if chosen.recipients.is_empty() {
        return Ok(Plan {
            reply,
            recipients: Vec::new(),
            job: None,
        });
    }
    let apns_creds = apns_creds.transpose().map_err(|e| config_error(e.0))?;
    let fcm_creds = fcm_creds.transpose().map_err(|e| config_error(e.0))?;
    let pool = ctx
        .notifier
        .pool(settings.ca_file.as_deref())
        .map_err(|e| config_error(e.to_string()))?;
    let job = Job {
        apns: apns_creds.map(|c| (c, apns::body(&req.message, data))),
        fcm: fcm_creds.map(|c| (c, fcm::template(&req.message, data))),
        targets: chosen
            .recipients
            .iter()
            .map(|r| (r.platform, r.token.clone()))
            .collect(),
    };
    Ok(Plan {
        reply,
        recipients: chosen.recipients,
        job: Some((pool, job)),
    })
}

async fn notify(ctx: &Context, req: NotifyRequest) -> Result<NotifyReply, CmdError> {
    let data = check(&req)?;
    let Plan {
        mut reply,
        recipients,
        job,
    } = on_pool(ctx, move |c| plan(c, &req, &data)).await??;
    if let Some((pool, job)) = job {
        let sent = ctx
            .notifier
            .send(pool, job)
            .await
            .map_err(|e| {
                CmdError::new(
                    ErrorCode::ShuttingDown,
                    format!("{e}: nothing more is sent"),
                )
            })?
            .map_err(config_error)?;
        let folder = reply.app.clone();
        let mut gone = Vec::new();
        for (i, (r, outcome)) in recipients.iter().zip(&sent.outcomes).enumerate() {
            let (status, reason) = match outcome {
                Outcome::Sent => (NotifyStatus::Sent, None),
                Outcome::Gone(why) => {
                    gone.push((reply.results.len(), i));
                    (NotifyStatus::Failed, Some(why.clone()))
                }
                Outcome::Failed(why) => (NotifyStatus::Failed, Some(why.clone())),
            };
            reply
                .results
                .push(result(&folder, &r.id, Some(r.platform), status, reason));
        }
        reply.errors.extend(sent.errors);
        reply.config_error = sent.config_error;
        if !gone.is_empty() {
            let dead: Vec<(String, String)> = gone
                .iter()
                .map(|&(_, i)| (recipients[i].id.clone(), recipients[i].token.clone()))
                .collect();
            let f = folder.clone();
            let removed = on_pool(ctx, move |c| remove_tokens(c, &f, &dead)).await?;
            for ((at, i), outcome) in gone.into_iter().zip(removed) {
                match outcome {
                    Ok(done) => reply.results[at].token_removed = done,
                    Err(e) => reply.warnings.push(format!(
                        "the token of {folder}/{} is gone but could not be removed: {e}",
                        recipients[i].id
                    )),
                }
            }
        }
    }
    Ok(finish(ctx, reply))
}

/// Counts, 4D's `success`, the order of the results, the event, the log.
fn finish(ctx: &Context, mut reply: NotifyReply) -> NotifyReply {
    reply.results.sort_by_key(|r| r.id.to_lowercase());
    let count = |s: NotifyStatus| reply.results.iter().filter(|r| r.status == s).count() as u64;
    (reply.sent, reply.failed, reply.skipped) = (
        count(NotifyStatus::Sent),
        count(NotifyStatus::Failed),
        count(NotifyStatus::Skipped),
    );
    for r in reply
        .results
        .iter()
        .filter(|r| r.status == NotifyStatus::Failed)
    {
        reply.warnings.push(format!(
            "failed to send to {}/{}: {}",
            r.app,
            r.id,
            r.reason.as_deref().unwrap_or("unknown reason")
        ));
    }
    reply.success = reply.sent > 0;
    let counts = NotifyCounts {
        sent: reply.sent,
        failed: reply.failed,
        skipped: reply.skipped,
        tokens_removed: reply.results.iter().filter(|r| r.token_removed).count() as u64,
    };
    tracing::info!(
        app = %reply.app,
        dry_run = reply.dry_run,
        sent = counts.sent,
        failed = counts.failed,
        skipped = counts.skipped,
        tokens_removed = counts.tokens_removed,
        "notified"
    );
    if !reply.dry_run {
        let after = serde_json::json!({
            "sent": counts.sent, "failed": counts.failed, "skipped": counts.skipped,
            "tokens_removed": counts.tokens_removed,
        });
        let null = serde_json::Value::Null;
        super::audit::record(ctx, "notify", Some(&reply.app), None, null, after);
    }
    let mut ev = Event::new(EventKind::Notified);
    ev.app = Some(reply.app.clone());
    ev.notify = Some(counts);
    ev.message = reply.dry_run.then(|| "dry run".to_string());
    ctx.core.emit(ev);
    reply
}

/// Removes each gone token from its session's file, in one transaction;
/// per session whether the file was rewritten.
fn remove_tokens(
    ctx: &Context,
    folder: &str,
    dead: &[(String, String)],
) -> Vec<Result<bool, CmdError>> {
    let mut txn = ctx.core.txn();
    dead.iter()
        .map(|(id, token)| {
            let key = SessionKey::new(folder, id);
            let Some((name, before)) = txn.views(|disk, _| {
                disk.get(&key).map(|e| (e.name.to_string(), e.state.clone().ok()))
            }) else {
                return Ok(false);
            };
            let path = ctx.core.store().session_path(folder, &name).display().to_string();
            let written = txn.rewrite(folder, &name, |file| -> Result<_, CmdError> {
                let (_, doc) = edit::read_valid(folder, &name, &file.bytes, &path)?;
                // A new token stored meanwhile stays.
                if lookup(&doc, &["device", "token"]).and_then(Value::as_str) != Some(token.as_str()) {
                    return Ok(None);
                }
                let new = without_push_token(&file.bytes)
                    .ok_or_else(|| CmdError::internal("cannot edit the session file in place"))?;
                validate(folder, &name, &new).map_err(|inv| {
                    CmdError::internal(format!("the edit would make the file invalid: {}", inv.error))
                })?;
                Ok(Some(new))
            })?;
            if written {
                txn.make_live(folder, &name, before.as_ref());
                tracing::info!(app = %folder, id = %name, "push token removed: the service calls it gone");
            }
            Ok(written)
        })
        .collect()
}

/// The file's bytes without `device.token`, every other byte kept.
fn without_push_token(bytes: &[u8]) -> Option<Vec<u8>> {
    let bom = bytes.len() - strip_bom(bytes).len();
    let text = std::str::from_utf8(&bytes[bom..]).ok()?;
    let edited = remove_member(text, &["device", "token"])?;
    let mut out = bytes[..bom].to_vec();
    out.extend_from_slice(edited.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session_proto::NotifyRecipients;

    fn req(who: NotifyRecipients, title: &str, data: Option<&str>) -> NotifyRequest {
        NotifyRequest {
            app: "a".into(),
            recipients: who,
            message: NotifyMessage {
                title: title.into(),
                data: data.map(str::to_string),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn requests_are_checked() {
        let all = NotifyRecipients {
            all: true,
            ..Default::default()
        };
        assert!(check(&req(all.clone(), "Hi", Some(r#"{"k":1}"#))).is_ok());
        let both = NotifyRecipients {
            all: true,
            emails: vec!["a@b".into()],
            ..Default::default()
        };
        for (r, want) in [
            (req(NotifyRecipients::default(), "Hi", None), "say who"),
            (req(both, "Hi", None), "cannot be given with"),
            (req(all.clone(), " ", None), "title is empty"),
            (req(all.clone(), "Hi", Some("[1]")), "JSON object"),
            (req(all.clone(), "Hi", Some("{")), "not JSON"),
            (req(all.clone(), "Hi", Some(r#"{"aps":{}}"#)), "\"aps\""),
            (req(all.clone(), &"x".repeat(5000), None), "at most 4096"),
        ] {
            let e = check(&r).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadRequest);
            assert!(e.message.contains(want), "{}", e.message);
        }
    }

    #[test]
    fn only_the_push_token_goes() {
        let file =
            "\u{feff}{\"device\": {\"id\": \"x\", \"token\": \"t\"}, \"status\": \"accepted\"}";
        let out = without_push_token(file.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}{\"device\": {\"id\": \"x\"}, \"status\": \"accepted\"}"
        );
    }
}
