//! What 4D's mobile SDKs send, and sign-ins through the client library.

use std::future::Future;

use mobile_session::{Client, ClientError};
use mobile_session_proto::AuthReply;
use serde_json::{json, Value};

use super::{Daemon, Opts};

pub const IPAD_DEVICE: &str = "A1B2C3D4-0000-4000-8000-1234567890AB";
pub const IPAD_PUSH_TOKEN: &str =
    "f3a9c1d2e4b5a6978899aabbccddeeff00112233445566778899aabbccddeeff";
pub const SEED_DEVICE: &str = "0DC5132E-1EF4-407C-A832-5FE33D818AF3";
pub const ANDROID_DEVICE: &str = "9774d56d682e549c";

/// The `[policy]` that opens sign-in to every device (closed by default).
pub const OPEN_SIGN_IN: &str = "[policy]\nsign_in = \"open\"\n";

/// What the iOS SDK (QMobileAPI `AuthTarget`) posts to `$authenticate`.
pub fn ios_body(device: &str, email: &str) -> Value {
    json!({
        "email": email,
        "password": "hunter2-secret",
        "send": "link",
        "application": {"name": "Contact", "id": "com.contactApp.Contact", "version": "1.0.0"},
        "team": {"id": "UTT7VDX8W5", "name": "4D SAS"},
        "device": {"id": device, "description": "iPhone 15", "version": "17.4", "os": "iOS", "simulator": false, "jb": false},
        "language": {"id": "fr_FR", "code": "fr", "region": "FR"},
        "parameters": {"customer": 42}
    })
}

/// What the Android SDK posts: no `team`, no `send`.
pub fn android_body(device: &str, email: &str) -> Value {
    json!({
        "email": email,
        "password": "p4ss-secret",
        "application": {"id": "com.sample.tasks", "name": "Tasks", "version": "2.0.0"},
        "device": {"id": device, "simulator": false, "description": "Pixel 8", "version": "34 (Android U)", "os": "Android"},
        "language": {"id": "en_US", "code": "en", "region": "US"},
        "parameters": {}
    })
}

impl Daemon {
    /// A daemon on the example data whose `[policy]` opens sign-in, with
    /// `extra` policy lines.
    pub fn start_open(extra: &str) -> Self {
        Self::start_with(Opts {
            config: Some(format!("{OPEN_SIGN_IN}{extra}\n")),
            ..Default::default()
        })
    }
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A sign-in through the library, from the address `ip` when given.
pub fn try_auth_from(d: &Daemon, body: &str, ip: Option<&str>) -> Result<AuthReply, ClientError> {
    block_on(async {
        let c = Client::connect(&d.socket).await.unwrap();
        c.authenticate_from(body, ip).await
    })
}

pub fn try_auth(d: &Daemon, body: &str) -> Result<AuthReply, ClientError> {
    try_auth_from(d, body, None)
}

/// A sign-in's reply, as the JSON the CLI prints (`--json authenticate`).
pub fn auth_json(r: &AuthReply) -> Value {
    json!({
        "success": r.success,
        "id": r.id,
        "status": r.status.map(|s| s.as_str()),
        "token": r.token,
        "statusText": r.status_text,
        "userInfo": r.user_info.as_deref().map(|u| serde_json::from_str::<Value>(u).unwrap()),
    })
}

/// A sign-in's reply (see [`auth_json`]).
pub fn auth(d: &Daemon, body: &Value) -> Value {
    auth_from(d, body, None)
}

/// A sign-in's reply, from the address `ip` when given.
pub fn auth_from(d: &Daemon, body: &Value, ip: Option<&str>) -> Value {
    let r = try_auth_from(d, &body.to_string(), ip).unwrap_or_else(|e| panic!("authenticate: {e}"));
    auth_json(&r)
}
