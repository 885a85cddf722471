//! `authenticate`: a sign-in, as 4D's `$authenticate` does it.
//!
//! 1. [`body`] checks the request ([`parse_body`]) and the IP the front saw.
//! 2. The decision — the app's hook when it has one, else the static rules
//!    of [`decision`] — is taken *before* the write lock: a hook may take
//!    seconds and nothing else may wait on it. The hook is told the session
//!    it decides on (`Facts`: the id it has or will have, the IP, the
//!    stored status). A refusal ends here: nothing written, an existing
//!    session left as it is.
//! 3. Under the write lock the decision meets the disk: no session for this
//!    app + `device.id` (or an empty `device.id`) → a new file, live at once;
//!    a session → its file edited in place ([`merge`]) by a checked rewrite,
//!    its status from [`decision::status_of`] (the stored status decides
//!    under the rules, the hook's answer wins), live at once. If the session
//!    is no longer the one the hook was told of, the hook decides again.
//!
//! The file work (reading the body, looking the session up, writing it)
//! runs on the blocking pool, a few sign-ins at a time; the hook is awaited
//! on the connection's thread ([`crate::hook`]), holding no thread.
//!
//! `password` reaches the hook only; it is never stored or logged.

pub mod body;
pub mod decision;
pub mod merge;

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mobile_session_proto::{AuthReply, ErrorCode, Response, Status};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use body::parse_body;
use body::SignInBody;
use decision::{Admission, Decision, Existing};
use merge::Written;

use super::edit::{self, check_size};
use super::{CmdError, Context};
use crate::config::{Config, Policy, SessionIdFormat};
use crate::core::Txn;
use crate::hook::{self, HookError};
use crate::model::session::{validate, SessionRecord};
use crate::model::token;
use crate::store::{StoreError, WriteMode};

/// How many times the hook decides one sign-in when the session it was told
/// of keeps changing before its answer can be applied.
const DECISIONS: usize = 3;

/// What a sign-in answers when every hook's place stays taken.
const BUSY_TEXT: &str = "The server is busy, try again in a moment.";

/// Sign-ins' file work on the blocking pool at once. It is serialised by the
/// write lock anyway; bounded, a flood of sign-ins leaves the pool's threads
/// to the commands, pushes and the watcher.
static POOL_PLACES: Semaphore = Semaphore::const_new(4);

/// `ip`: the address the front saw, if it gave one.
pub async fn handle(ctx: &Context, body: String, ip: Option<String>) -> Result<Response, CmdError> {
    Ok(Response::Authenticated(sign_in(ctx, body, ip).await?))
}

/// Says at start when no sign-in can succeed, and which key opens it.
pub fn log_policy(config: &Config, file: Option<&Path>) {
    let Some(open_apps) = config.closed_sign_in() else {
        return;
    };
    let file = file.map_or("a config file (--config)".to_string(), |f| {
        f.display().to_string()
    });
    let except = if open_apps.is_empty() {
        String::new()
    } else {
        format!(" (except for {})", open_apps.join(", "))
    };
    tracing::info!(
        "sign-in is closed: every authenticate is refused{except}, as 4D refuses every \
         $authenticate without an On Mobile App Authentication method; `sign_in = \"open\"` \
         under [policy] in {file} opens it (or a hook, or allow_email_domains)"
    );
}

/// Why one attempt at a sign-in stopped short.
enum Halt {
    Failed(CmdError),
    /// The session is not the one the hook was told of: decide again.
    Stale,
}

impl From<CmdError> for Halt {
    fn from(e: CmdError) -> Self {
        Halt::Failed(e)
    }
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Halt::Failed(e.into())
    }
}

/// The session a hook decides on, as the disk has it before the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    /// The id the session has, or will have.
    id: String,
    /// The file name and the stored status of an existing session.
    existing: Option<(String, Status)>,
}

/// A request read and checked, with its app's policy.
struct Request {
    body: SignInBody,
    policy: Policy,
    ip: Option<String>,
    format: SessionIdFormat,
}

/// What the hook is asked: the session as the disk has it, and the body
/// the hook reads, with that session in it.
struct Question {
    facts: Facts,
    input: String,
}

/// Where the first step on the pool left a sign-in.
enum Begun {
    /// The rules decided: the answer.
    Done(AuthReply),
    /// The app has a hook: what to ask it.
    Ask(Arc<Request>, Question),
}

async fn sign_in(ctx: &Context, raw: String, ip: Option<String>) -> Result<AuthReply, CmdError> {
    let (req, mut question) = match pooled(ctx, move |ctx| begin(ctx, &raw, ip)).await? {
        Begun::Done(reply) => return Ok(reply),
        Begun::Ask(req, question) => (req, question),
    };
    for round in 1..=DECISIONS {
        let admission = match ask_hook(ctx, &req, &question).await? {
            Decision::Admit(a) => a,
            Decision::Refuse {
                status_text,
                user_info,
            } => {
                super::audit::refused(ctx, &req.body.folder);
                return Ok(refused(status_text, user_info));
            }
        };
        let (r, facts) = (req.clone(), question.facts.clone());
        if let Some(reply) =
            pooled(ctx, move |ctx| apply(ctx, &r, Some(&facts), &admission)).await?
        {
            return Ok(reply);
        }
        tracing::debug!(app = %req.body.folder, round, "the session changed while the hook decided");
        if round < DECISIONS {
            let r = req.clone();
            question = pooled(ctx, move |ctx| look(ctx, &r)).await?;
        }
    }
    Err(CmdError::new(
        ErrorCode::Conflict,
        format!(
            "the session of this device changed while the hook decided, {DECISIONS} times; \
             nothing was written; try again"
        ),
    ))
}

/// Runs a sign-in's file work on the blocking pool, among the few allowed.
async fn pooled<T, F>(ctx: &Context, f: F) -> Result<T, CmdError>
where
    T: Send + 'static,
    F: FnOnce(&Context) -> Result<T, CmdError> + Send + 'static,
{
    let _place = POOL_PLACES
        .acquire()
        .await
        .map_err(|_| CmdError::internal("the sign-in queue is closed"))?;
    super::on_pool(ctx, f).await
}

/// Reads the request; without a hook, the whole sign-in.
fn begin(ctx: &Context, raw: &str, ip: Option<String>) -> Result<Begun, CmdError> {
    if let Some(ip) = &ip {
        body::check_ip(ip)?;
    }
    let body = parse_body(raw)?;
    // A blocked device is refused whatever the policy, before any hook.
    if let Some(reply) = super::block::refusal(ctx, &body) {
        return Ok(Begun::Done(reply));
    }
    let config = ctx.core.config();
    let req = Request {
        policy: config.policy_for(&body.folder, &body.app_id),
        body,
        ip,
        format: config.session_id,
    };
    if !req.policy.hook.is_empty() {
        let question = look(ctx, &req)?;
        return Ok(Begun::Ask(Arc::new(req), question));
    }
    let email = req.body.email.as_deref().unwrap_or("");
    let admission = match decision::by_rules(&req.policy, email) {
        Decision::Admit(a) => a,
        Decision::Refuse {
            status_text,
            user_info,
        } => {
            tracing::info!(app = %req.body.folder, "sign-in refused by the policy: {status_text}");
            super::audit::refused(ctx, &req.body.folder);
            return Ok(Begun::Done(refused(status_text, user_info)));
        }
    };
    // Told nothing, the rules cannot have decided on a stale session.
    apply(ctx, &req, None, &admission)?
        .map(Begun::Done)
        .ok_or_else(|| CmdError::internal("a sign-in decided by the rules was found stale"))
}

fn refused(status_text: String, user_info: Option<Map<String, Value>>) -> AuthReply {
    AuthReply {
        success: false,
        id: None,
        status: None,
        token: None,
        status_text,
        user_info: user_info.map(|u| Value::Object(u).to_string()),
    }
}

/// What the disk says of this app + device now (its session, or the id a
/// new one will have), and the hook's input telling it so. The session
/// is as the server knows it, never as the app claims it.
fn look(ctx: &Context, req: &Request) -> Result<Question, CmdError> {
    let facts = {
        let mut txn = ctx.core.txn();
        match existing_session(&mut txn, &req.body) {
            Some((name, rec)) => Facts {
                id: rec.id.to_string(),
                existing: Some((name, rec.status)),
            },
            None => Facts {
                id: new_session_id(req.format)?,
                existing: None,
            },
        }
    };
    let input = req.body.with_session(json!({
        "id": facts.id,
        "ip": req.ip,
        "status": facts.existing.as_ref().map(|(_, s)| s.as_str()),
    }));
    Ok(Question { facts, input })
}

/// The hook's decision. A hook that fails refuses (fail closed); one that
/// found no free place, or was stopped with the daemon, is an error the
/// client reports as "busy" or "stopping" (exit 69).
async fn ask_hook(ctx: &Context, req: &Request, q: &Question) -> Result<Decision, CmdError> {
    let folder = &req.body.folder;
    let vars = [
        ("MOBILE_SESSIOND_APP", OsString::from(folder)),
        ("MOBILE_SESSIOND_SESSION_ID", OsString::from(&q.facts.id)),
        (
            "MOBILE_SESSIOND_DATA_DIR",
            ctx.info.data_dir.clone().into_os_string(),
        ),
    ];
    let call = hook::Call {
        argv: &req.policy.hook,
        input: &q.input,
        timeout: Duration::from_millis(req.policy.hook_timeout_ms),
        vars: &vars,
        pass: &req.policy.hook_env,
        app: folder,
    };
    match ctx.hooks.run(call).await {
        Ok(answer) => {
            if !answer.success {
                tracing::info!(app = %folder, "the hook refused the sign-in");
            }
            Ok(decision::by_hook(answer))
        }
        Err(HookError::Busy { .. }) => Err(CmdError::new(ErrorCode::Busy, BUSY_TEXT)),
        Err(HookError::Stopped) => Err(CmdError::new(
            ErrorCode::ShuttingDown,
            "The server is stopping, try again in a moment.",
        )),
        Err(e) => {
            let program = req.policy.hook.first().map_or("", String::as_str);
            tracing::warn!(app = %folder, hook = %program, "sign-in refused: the hook {e}");
            Ok(decision::hook_failed())
        }
    }
}

/// An admitted sign-in meeting the disk, under the write lock; `None` when
/// the session is no longer the one the hook was told of.
fn apply(
    ctx: &Context,
    req: &Request,
    facts: Option<&Facts>,
    admission: &Admission,
) -> Result<Option<AuthReply>, CmdError> {
    let mut txn = ctx.core.txn();
    // Under the write lock, which a block holds while it deletes.
    if let Some(reply) = super::block::refusal(ctx, &req.body) {
        return Ok(Some(reply));
    }
    let s = SignIn {
        body: &req.body,
        admission,
        facts,
        ip: req.ip.as_deref(),
    };
    let existing = existing_session(&mut txn, &req.body);
    let before = existing.as_ref().map(|(_, rec)| rec.status);
    let attempt = match existing {
        Some((name, rec)) => s.again(&mut txn, &name, &rec),
        None => s.first(&mut txn, req.format),
    };
    match attempt {
        Ok(reply) => {
            let folder = &req.body.folder;
            if let Some(id) = &reply.id {
                super::activity::seen(ctx, folder, id);
            }
            super::audit::sign_in(ctx, folder, before, &reply);
            Ok(Some(reply))
        }
        Err(Halt::Stale) => Ok(None),
        Err(Halt::Failed(e)) => Err(e),
    }
}

/// The session of this app + device, as the file says now.
fn existing_session(txn: &mut Txn<'_>, body: &SignInBody) -> Option<(String, Arc<SessionRecord>)> {
    let device = body.device_id.as_deref()?;
    let find = |txn: &Txn<'_>| {
        txn.views(|disk, _| {
            let team = body.team_id.as_deref().unwrap_or("");
            let (name, rec) = disk
                .app(&body.folder)?
                .find_device(&body.app_id, team, device)?;
            Some((name.to_string(), rec.clone()))
        })
    };
    // The file may have changed behind our back: re-read before deciding.
    let (name, _) = find(txn)?;
    txn.refresh_file(&body.folder, &name);
    find(txn)
}

/// One admitted sign-in meeting the disk, under the write lock.
struct SignIn<'a> {
    body: &'a SignInBody,
    admission: &'a Admission,
    /// What the hook was told; `None` when the rules decided.
    facts: Option<&'a Facts>,
    ip: Option<&'a str>,
}

impl SignIn<'_> {
    fn written(&self, status: Status) -> Written<'_> {
        Written {
            status,
            ip: self.ip,
            user_info: self.admission.user_info.as_ref(),
        }
    }

    fn first(&self, txn: &mut Txn<'_>, format: SessionIdFormat) -> Result<AuthReply, Halt> {
        let (body, folder) = (self.body, &self.body.folder);
        if self.facts.is_some_and(|f| f.existing.is_some()) {
            return Err(Halt::Stale); // told of a session that is gone
        }
        let status = decision::status_of(self.admission, None);
        let file = |id: &str| {
            let token = token::encode(&body.app_id, id, body.team_id.as_deref());
            let bytes = merge::new_file(body, id, &token, self.written(status));
            (token, bytes)
        };
        // Every check before the folder is created: a refusal leaves nothing.
        let mut id = match self.facts {
            Some(f) => f.id.clone(),
            None => new_session_id(format)?,
        };
        let (mut token, mut bytes) = file(&id);
        check_size(bytes.len())?;
        validate(folder, &id, &bytes).map_err(|inv| {
            CmdError::internal(format!(
                "the new session file would be invalid: {}",
                inv.error
            ))
        })?;
        let created = txn.ensure_folder(folder)?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match txn.write(folder, &id, &bytes, WriteMode::Create) {
                Ok(()) => break,
                // The hook was told this id: it decides again on another.
                Err(StoreError::Exists { .. }) if self.facts.is_some() => return Err(Halt::Stale),
                // Random ids do not collide in practice, but a clash must not overwrite.
                Err(StoreError::Exists { .. }) if attempts < 8 => {
                    id = new_session_id(format)?;
                    (token, bytes) = file(&id);
                }
                Err(e) => {
                    if created {
                        if let Err(undo) = txn.remove_folder_if_empty(folder) {
                            tracing::warn!(app = %folder, "cannot remove the app folder created for a failed sign-in: {undo}");
                        }
                    }
                    return Err(e.into());
                }
            }
        }
        txn.make_live(folder, &id, None);
        tracing::info!(app = %folder, id = %id, %status, "new session");
        Ok(admitted(id, status, token, self.admission))
    }

    fn again(
        &self,
        txn: &mut Txn<'_>,
        name: &str,
        rec: &Arc<SessionRecord>,
    ) -> Result<AuthReply, Halt> {
        let (body, folder) = (self.body, &self.body.folder);
        let told = match self.facts {
            None => None,
            Some(Facts {
                existing: Some((n, status)),
                ..
            }) if n == name => Some(*status),
            Some(_) => return Err(Halt::Stale),
        };
        let mut token = String::new();
        let mut decided = rec.status;
        // Decided against the file as each attempt reads it: a status another
        // writer set meanwhile is the one that counts.
        txn.rewrite(folder, name, |file| -> Result<_, Halt> {
            let (current, doc) =
                edit::read_valid(folder, name, &file.bytes, "the session file of this device")?;
            if told.is_some_and(|s| s != current.status) {
                return Err(Halt::Stale);
            }
            token = doc
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let existing = Existing {
                status: current.status,
                email_changed: decision::email_changed(
                    current.email.as_deref(),
                    body.email.as_deref(),
                ),
            };
            decided = decision::status_of(self.admission, Some(existing));
            let edits = merge::again_edits(body, &doc, self.written(decided));
            if edits.is_empty() {
                return Ok(None);
            }
            Ok(Some(edit::apply(folder, name, &file.bytes, &edits)?))
        })?;
        // Live at once, unless an unpushed edit made the live copy differ from
        // what we started from: then the server keeps serving the live copy.
        txn.make_live(folder, name, Some(rec));
        let status = txn
            .views(|_, live| live.get(folder, name).map(|l| l.status))
            .unwrap_or(decided);
        tracing::info!(app = %folder, id = %rec.id, %status, "session signed in again");
        Ok(admitted(rec.id.to_string(), status, token, self.admission))
    }
}

fn admitted(id: String, status: Status, token: String, admission: &Admission) -> AuthReply {
    AuthReply {
        success: true,
        id: Some(id),
        status: Some(status),
        // The apps take a missing token for "pending".
        token: (status == Status::Accepted).then_some(token),
        status_text: admission.text_for(status),
        user_info: admission.user_info.as_ref().map(user_info_text),
    }
}

fn user_info_text(u: &Map<String, Value>) -> String {
    Value::Object(u.clone()).to_string()
}

/// A new session id from the OS random source: 40 lower-case hex
/// characters, or a 4D session UUID (32 upper-case hex, version 4).
fn new_session_id(format: SessionIdFormat) -> Result<String, CmdError> {
    let mut b = [0u8; 20];
    getrandom::fill(&mut b)
        .map_err(|e| CmdError::internal(format!("the OS random source failed: {e}")))?;
    Ok(format_id(format, b))
}

fn format_id(format: SessionIdFormat, mut b: [u8; 20]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(40);
    match format {
        SessionIdFormat::Hex40 => b.iter().for_each(|x| {
            let _ = write!(out, "{x:02x}");
        }),
        SessionIdFormat::Uuid => {
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            b[..16].iter().for_each(|x| {
                let _ = write!(out, "{x:02X}");
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::is_session_name;

    #[test]
    fn session_ids() {
        let hex = format_id(SessionIdFormat::Hex40, [0xAB; 20]);
        assert_eq!(hex, "ab".repeat(20));
        let uuid = format_id(SessionIdFormat::Uuid, [0xFF; 20]);
        assert_eq!(uuid, "FFFFFFFFFFFF4FFFBFFFFFFFFFFFFFFF");
        for f in [SessionIdFormat::Hex40, SessionIdFormat::Uuid] {
            let id = new_session_id(f).unwrap();
            assert!(is_session_name(&id), "{id}");
            assert_ne!(id, new_session_id(f).unwrap());
        }
    }
}
