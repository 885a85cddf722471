//! The APNs stand-in: `POST /3/device/<token>`, checked as Apple does it
//! (an ES256 provider token signed with the app's `.p8` key, `kid` and
//! `iss` matching, `apns-topic`, `apns-push-type`, a JSON body with
//! `aps`), recorded, and answered 200 — or as scripted for a token.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use crate::keys::{verify_es256, ApnsKey};
use crate::server::{Answer, Received, Server};
use crate::{lock, unix_now, Scripted, TestCa};

struct State {
    key_id: String,
    team_id: String,
    public: Vec<u8>,
    requests: Mutex<Vec<Received>>,
    delivered: Mutex<Vec<Received>>,
    tokens_seen: Mutex<Vec<String>>,
    verified: Mutex<HashSet<String>>,
    scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
    gone: Mutex<HashMap<String, (u16, &'static str)>>,
}

pub struct ApnsStandIn {
    server: Server,
    state: Arc<State>,
}

impl ApnsStandIn {
    /// A stand-in serving a certificate of `ca`, accepting provider tokens
    /// of `key` with key id `key_id` and team `team_id`.
    pub fn start(ca: &TestCa, key: &ApnsKey, key_id: &str, team_id: &str) -> Self {
        let state = Arc::new(State {
            key_id: key_id.into(),
            team_id: team_id.into(),
            public: key.public.clone(),
            requests: Mutex::default(),
            delivered: Mutex::default(),
            tokens_seen: Mutex::default(),
            verified: Mutex::default(),
            scripts: Mutex::default(),
            gone: Mutex::default(),
        });
        let s = state.clone();
        let server = Server::start(&ca.server_cert(), Arc::new(move |r| handle(&s, r)));
        Self { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    pub fn drop_connections(&self) {
        self.server.drop_connections()
    }

    /// See [`Server::hold_until_in_flight`](crate::server::Server::hold_until_in_flight).
    pub fn hold_until_in_flight(&self, n: usize) {
        self.server.hold_until_in_flight(n)
    }

    pub fn max_in_flight(&self) -> usize {
        self.server.max_in_flight()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state.requests).clone()
    }

    /// The requests answered 200.
    pub fn delivered(&self) -> Vec<Received> {
        lock(&self.state.delivered).clone()
    }

    pub fn delivered_count(&self) -> usize {
        lock(&self.state.delivered).len()
    }

    /// The distinct provider tokens (JWTs) seen, in order.
    pub fn provider_tokens(&self) -> Vec<String> {
        lock(&self.state.tokens_seen).clone()
    }

    /// From now on `token` is answered 410 `Unregistered`.
    pub fn unregister(&self, token: &str) {
        lock(&self.state.gone).insert(token.into(), (410, "Unregistered"));
    }

    /// From now on `token` is answered 400 `BadDeviceToken`.
    pub fn bad_device_token(&self, token: &str) {
        lock(&self.state.gone).insert(token.into(), (400, "BadDeviceToken"));
    }

    /// The next requests for `token` get these answers, then 200 again.
    pub fn script(&self, token: &str, answers: Vec<Scripted>) {
        lock(&self.state.scripts)
            .entry(token.into())
            .or_default()
            .extend(answers);
    }
}

fn reason(status: u16, reason: &str) -> Answer {
    Answer::json(status, serde_json::json!({ "reason": reason }))
}

fn handle(state: &State, r: &Received) -> Answer {
    lock(&state.requests).push(r.clone());
    let Some(token) = r.path.strip_prefix("/3/device/") else {
        return reason(404, "BadPath");
    };
    if r.method != "POST" {
        return reason(405, "MethodNotAllowed");
    }
    let Some(jwt) = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("bearer "))
    else {
        return reason(403, "MissingProviderToken");
    };
    if let Err(why) = check_jwt(state, jwt) {
        return reason(403, why);
    }
    if r.header("apns-topic").is_none_or(str::is_empty) {
        return reason(400, "MissingTopic");
    }
    if r.header("apns-push-type") != Some("alert") {
        return reason(400, "InvalidPushType");
    }
    let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
    if body.as_ref().and_then(|b| b.get("aps")).is_none() {
        return reason(400, "PayloadEmpty");
    }
    if let Some(&(status, why)) = lock(&state.gone).get(token) {
        let mut a = reason(status, why);
        if status == 410 {
            a = Answer::json(
                410,
                serde_json::json!({"reason": why, "timestamp": unix_now() * 1000}),
            );
        }
        return a;
    }
    if let Some(s) = lock(&state.scripts)
        .get_mut(token)
        .and_then(VecDeque::pop_front)
    {
        return s.answer(reason(s.status, &s.reason));
    }
    lock(&state.delivered).push(r.clone());
    Answer {
        status: 200,
        headers: vec![(
            "apns-id".into(),
            format!("{:032X}", lock(&state.delivered).len()),
        )],
        body: String::new(),
    }
}

/// Apple's checks of a provider token: signature, `kid`, `iss`, and an
/// `iat` within the last hour.
fn check_jwt(state: &State, jwt: &str) -> Result<(), &'static str> {
    if lock(&state.verified).contains(jwt) {
        return Ok(());
    }
    let checked = verify_es256(jwt, &state.public).map_err(|_| "InvalidProviderToken")?;
    if checked.header["kid"] != state.key_id.as_str()
        || checked.claims["iss"] != state.team_id.as_str()
    {
        return Err("InvalidProviderToken");
    }
    let iat = checked.claims["iat"]
        .as_u64()
        .ok_or("InvalidProviderToken")?;
    if iat + 3600 < unix_now() || iat > unix_now() + 300 {
        return Err("ExpiredProviderToken");
    }
    lock(&state.verified).insert(jwt.to_string());
    lock(&state.tokens_seen).push(jwt.to_string());
    Ok(())
}
