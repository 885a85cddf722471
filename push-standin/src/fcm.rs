//! The FCM stand-in: an OAuth token endpoint (`POST /token`) that checks
//! the service account's RS256 assertion as Google does, and
//! `POST /v1/projects/<id>/messages:send`, which takes only the access
//! tokens it issued, records the message and answers 200 — or
//! `UNREGISTERED` for a token made gone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::keys::{service_account_public, verify_rs256};
use crate::server::{Answer, Received, Server};
use crate::{lock, unix_now, Scripted, TestCa};

/// The scope an FCM sender needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

struct State {
    client_email: String,
    project_id: String,
    token_uri: Mutex<String>,
    public: Vec<u8>,
    expires_in: AtomicU64,
    issued: Mutex<HashSet<String>>,
    requests: Mutex<Vec<Received>>,
    delivered: Mutex<Vec<Received>>,
    gone: Mutex<HashSet<String>>,
    scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
}

pub struct FcmStandIn {
    server: Server,
    state: Arc<State>,
}

impl FcmStandIn {
    pub fn start(ca: &TestCa, client_email: &str, project_id: &str) -> Self {
        let state = Arc::new(State {
            client_email: client_email.into(),
            project_id: project_id.into(),
            token_uri: Mutex::default(),
            public: service_account_public(),
            expires_in: AtomicU64::new(3599),
            issued: Mutex::default(),
            requests: Mutex::default(),
            delivered: Mutex::default(),
            gone: Mutex::default(),
            scripts: Mutex::default(),
        });
        let s = state.clone();
        let server = Server::start(&ca.server_cert(), Arc::new(move |r| handle(&s, r)));
        *lock(&state.token_uri) = format!("{}/token", server.url());
        Self { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Where the service account's `token_uri` points.
    pub fn token_uri(&self) -> String {
        lock(&self.state.token_uri).clone()
    }

    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.issued).len()
    }

    /// The lifetime of the access tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.state.expires_in.store(secs, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state.requests).clone()
    }

    /// The message requests answered 200.
    pub fn delivered(&self) -> Vec<Received> {
        lock(&self.state.delivered).clone()
    }

    /// From now on `token` is answered 404 `UNREGISTERED`.
    pub fn unregister(&self, token: &str) {
        lock(&self.state.gone).insert(token.into());
    }

    pub fn script(&self, token: &str, answers: Vec<Scripted>) {
        lock(&self.state.scripts)
            .entry(token.into())
            .or_default()
            .extend(answers);
    }
}

/// Google's error shape.
pub fn google_error(code: u16, status: &str, message: &str, fcm: Option<&str>) -> Answer {
    let mut error = serde_json::json!({"code": code, "message": message, "status": status});
    if let Some(e) = fcm {
        error["details"] = serde_json::json!([{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": e
        }]);
    }
    Answer::json(code, serde_json::json!({ "error": error }))
}

fn handle(state: &State, r: &Received) -> Answer {
    lock(&state.requests).push(r.clone());
    if r.method != "POST" {
        return google_error(405, "METHOD_NOT_ALLOWED", "POST only", None);
    }
    if r.path == "/token" {
        return token(state, r);
    }
    let want = format!("/v1/projects/{}/messages:send", state.project_id);
    if r.path != want {
        if r.path.starts_with("/v1/projects/") {
            return google_error(
                403,
                "PERMISSION_DENIED",
                "SenderId mismatch",
                Some("SENDER_ID_MISMATCH"),
            );
        }
        return google_error(404, "NOT_FOUND", "no such method", None);
    }
    let bearer = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| lock(&state.issued).contains(b)) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
            None,
        );
    }
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
    let Some(device) = body["message"]["token"].as_str() else {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "message.token is missing",
            Some("INVALID_ARGUMENT"),
        );
    };
    let data_ok = body["message"]["data"]
        .as_object()
        .is_none_or(|d| d.values().all(|v| v.is_string()));
    if !data_ok {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "data values must be strings",
            Some("INVALID_ARGUMENT"),
        );
    }
    if lock(&state.gone).contains(device) {
        return google_error(
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
        );
    }
    if let Some(s) = lock(&state.scripts)
        .get_mut(device)
        .and_then(VecDeque::pop_front)
    {
        return s.answer(google_error(s.status, &s.reason, &s.reason, None));
    }
    let mut delivered = lock(&state.delivered);
    delivered.push(r.clone());
    let name = format!(
        "projects/{}/messages/0:{}",
        state.project_id,
        delivered.len()
    );
    Answer::json(200, serde_json::json!({ "name": name }))
}

/// The OAuth 2.0 JWT-bearer grant, checked as Google does.
fn token(state: &State, r: &Received) -> Answer {
    let invalid = |why: &str| {
        Answer::json(
            400,
            serde_json::json!({"error": "invalid_grant", "error_description": why}),
        )
    };
    let form = crate::form_decode(&r.body);
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Answer::json(400, serde_json::json!({"error": "unsupported_grant_type"}));
    }
    let Some(assertion) = form.get("assertion") else {
        return invalid("no assertion");
    };
    let Ok(checked) = verify_rs256(assertion, &state.public) else {
        return invalid("Invalid JWT Signature.");
    };
    let c = &checked.claims;
    if c["iss"] != state.client_email.as_str() {
        return invalid("Invalid JWT: iss is not the service account");
    }
    if c["aud"] != lock(&state.token_uri).as_str() {
        return invalid("Invalid JWT: aud is not the token URI");
    }
    let scopes = c["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == FCM_SCOPE) {
        return invalid("Invalid JWT: no firebase.messaging scope");
    }
    let (iat, exp) = (
        c["iat"].as_u64().unwrap_or(0),
        c["exp"].as_u64().unwrap_or(0),
    );
    if exp <= unix_now() || exp < iat || exp - iat > 3600 || iat > unix_now() + 300 {
        return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    }
    let mut issued = lock(&state.issued);
    let access = format!("ya29.standin-{}", issued.len() + 1);
    issued.insert(access.clone());
    Answer::json(
        200,
        serde_json::json!({
            "access_token": access,
            "expires_in": state.expires_in.load(Ordering::SeqCst),
            "token_type": "Bearer"
        }),
    )
}
