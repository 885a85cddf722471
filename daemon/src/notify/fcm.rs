//! FCM HTTP v1: the request for one device and what Google's answer means.
//! `POST /v1/projects/<project_id>/messages:send` with a bearer access
//! token and `{"message":{"token","notification":{"title","body"},"data"}}`.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::credentials::FcmCredentials;
use super::http::Reply;
use super::verdict::{label, retry_after, Verdict};
use mobile_session_proto::NotifyMessage;

/// The message of one command without its token; [`body`] adds it.
pub fn template(msg: &NotifyMessage, data: &Map<String, Value>) -> Map<String, Value> {
    let mut notification = Map::new();
    notification.insert("title".into(), msg.title.clone().into());
    if let Some(b) = &msg.body {
        notification.insert("body".into(), b.clone().into());
    }
    let mut message = Map::new();
    message.insert("notification".into(), Value::Object(notification));
    if !data.is_empty() {
        // FCM's data values are strings: others go as their JSON text.
        let strings = data
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(s))
            })
            .collect();
        message.insert("data".into(), Value::Object(strings));
    }
    if let Some(s) = &msg.sound {
        message.insert(
            "android".into(),
            serde_json::json!({"notification": {"sound": s}}),
        );
    }
    message
}

/// The body for one device.
pub fn body(template: &Map<String, Value>, device: &str) -> Bytes {
    let mut message = template.clone();
    message.insert("token".into(), device.into());
    Bytes::from(serde_json::json!({ "message": message }).to_string())
}

pub fn request(creds: &FcmCredentials, access_token: &str) -> Result<http::Request<()>, String> {
    let path = format!("/v1/projects/{}/messages:send", creds.project_id);
    http::Request::post(creds.endpoint.uri(&path))
        .header("authorization", format!("Bearer {access_token}"))
        .header("content-type", "application/json")
        .body(())
        .map_err(|e| format!("cannot build the request: {e}"))
}

/// Google's error: its `status`, FCM's `errorCode` when given, and the message.
fn google_error(body: &[u8]) -> (String, Option<String>, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let e = &v["error"];
    let status = e["status"].as_str().unwrap_or_default().to_string();
    let code = e["details"].as_array().and_then(|d| {
        d.iter()
            .find_map(|x| x["errorCode"].as_str().map(str::to_string))
    });
    let message = e["message"].as_str().unwrap_or_default().to_string();
    (status, code, message)
}

pub fn verdict(reply: &Reply) -> Verdict {
    if reply.status == 200 {
        return Verdict::Sent;
    }
    let (status, code, message) = google_error(&reply.body);
    let name = code.clone().unwrap_or(status);
    let text = match message.is_empty() {
        true => label(reply.status, &name),
        false => format!("{}: {message}", label(reply.status, &name)),
    };
    match (reply.status, code.as_deref()) {
        (_, Some("UNREGISTERED")) | (404, None) => Verdict::Gone("UNREGISTERED".into()),
        (401, _) => Verdict::Unauthenticated(text),
        (403, _) => Verdict::Config(format!(
            "FCM refused the credentials: {text} (check fcm_service_account and fcm_project_id)"
        )),
        (429, _) | (500..=599, _) => Verdict::Again {
            reason: text,
            after: retry_after(&reply.headers),
        },
        _ => Verdict::Failed(text),
    }
}

/// The token endpoint's answer: the access token and its lifetime, or
/// Google's refusal (`error: error_description`).
pub fn token_answer(reply: &Reply) -> Result<(String, u64), String> {
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    if reply.status == 200 {
        if let Some(t) = v["access_token"].as_str() {
            return Ok((t.to_string(), v["expires_in"].as_u64().unwrap_or(3600)));
        }
    }
    let error = v["error"].as_str().unwrap_or_default();
    let description = v["error_description"].as_str().unwrap_or_default();
    Err(match (error, description) {
        ("", "") => label(reply.status, ""),
        (e, "") => label(reply.status, e),
        (e, d) => format!("{}: {d}", label(reply.status, e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply::of(status, body)
    }

    #[test]
    fn the_message_as_google_wants_it() {
        let msg = NotifyMessage {
            title: "Hi".into(),
            body: Some("There".into()),
            subtitle: Some("ignored".into()),
            badge: Some(2),
            sound: Some("ping".into()),
            data: None,
        };
        let mut data = Map::new();
        data.insert("n".into(), 1.into());
        data.insert("s".into(), "x".into());
        let v: Value = serde_json::from_slice(&body(&template(&msg, &data), "tok")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"message": {"notification": {"title": "Hi", "body": "There"},
                "data": {"n": "1", "s": "x"}, "android": {"notification": {"sound": "ping"}},
                "token": "tok"}})
        );
    }

    #[test]
    fn answers() {
        assert_eq!(verdict(&reply(200, r#"{"name":"x"}"#)), Verdict::Sent);
        let gone = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
            "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert_eq!(
            verdict(&reply(404, gone)),
            Verdict::Gone("UNREGISTERED".into())
        );
        assert!(matches!(
            verdict(&reply(401, r#"{"error":{"status":"UNAUTHENTICATED"}}"#)),
            Verdict::Unauthenticated(_)
        ));
        assert!(
            matches!(verdict(&reply(403, r#"{"error":{"status":"PERMISSION_DENIED","message":"no"}}"#)), Verdict::Config(r) if r.contains("PERMISSION_DENIED: no"))
        );
        assert!(matches!(verdict(&reply(503, "")), Verdict::Again { .. }));
        let invalid = r#"{"error":{"status":"INVALID_ARGUMENT","message":"bad","details":[{"errorCode":"INVALID_ARGUMENT"}]}}"#;
        assert_eq!(
            verdict(&reply(400, invalid)),
            Verdict::Failed("400 INVALID_ARGUMENT: bad".into())
        );
    }

    #[test]
    fn token_answers() {
        assert_eq!(
            token_answer(&reply(
                200,
                r#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#
            )),
            Ok(("ya29.x".into(), 3599))
        );
        assert_eq!(
            token_answer(&reply(
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            )),
            Err("400 invalid_grant: Invalid JWT Signature.".into())
        );
    }
}
