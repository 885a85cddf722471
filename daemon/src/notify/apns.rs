//! APNs: the request for one device and what Apple's answer means.
//! `POST /3/device/<token>` with the provider token, `apns-topic` (the
//! bundle id), `apns-push-type: alert`, and
//! `{"aps":{"alert":{"title","subtitle","body"},"badge","sound"}, …data}`.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::credentials::ApnsCredentials;
use super::http::Reply;
use super::verdict::{label, retry_after, Verdict};
use mobile_session_proto::NotifyMessage;

/// The body, the same for every device of one command.
pub fn body(msg: &NotifyMessage, data: &Map<String, Value>) -> Bytes {
    let mut alert = Map::new();
    alert.insert("title".into(), msg.title.clone().into());
    if let Some(s) = &msg.subtitle {
        alert.insert("subtitle".into(), s.clone().into());
    }
    if let Some(b) = &msg.body {
        alert.insert("body".into(), b.clone().into());
    }
    let mut aps = Map::new();
    aps.insert("alert".into(), Value::Object(alert));
    if let Some(b) = msg.badge {
        aps.insert("badge".into(), b.into());
    }
    if let Some(s) = &msg.sound {
        aps.insert("sound".into(), s.clone().into());
    }
    let mut root = Map::new();
    root.insert("aps".into(), Value::Object(aps));
    for (k, v) in data {
        root.insert(k.clone(), v.clone());
    }
    Bytes::from(Value::Object(root).to_string())
}

pub fn request(
    creds: &ApnsCredentials,
    jwt: &str,
    device: &str,
) -> Result<http::Request<()>, String> {
    http::Request::post(creds.endpoint.uri(&format!("/3/device/{device}")))
        .header("authorization", format!("bearer {jwt}"))
        .header("apns-topic", creds.topic.as_str())
        .header("apns-push-type", "alert")
        .header("apns-priority", "10")
        .header("content-type", "application/json")
        .body(())
        .map_err(|e| format!("cannot build the request: {e}"))
}

/// Apple's answer: 200, or a status and `{"reason": …}`.
pub fn verdict(reply: &Reply) -> Verdict {
    if reply.status == 200 {
        return Verdict::Sent;
    }
    let reason = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("reason")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let text = label(reply.status, &reason);
    match (reply.status, reason.as_str()) {
        (410, _) | (400, "BadDeviceToken") => Verdict::Gone(reason_or(reason, "Unregistered")),
        (403, "ExpiredProviderToken") => Verdict::Expired,
        (403, _) => Verdict::Config(format!(
            "APNs refused the credentials: {text} (check apns_key_id, apns_team_id, the key file \
             and apns_environment)"
        )),
        (429, _) | (500..=599, _) => Verdict::Again {
            reason: text,
            after: retry_after(&reply.headers),
        },
        _ => Verdict::Failed(text),
    }
}

fn reason_or(reason: String, default: &str) -> String {
    if reason.is_empty() {
        default.to_string()
    } else {
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply::of(status, body)
    }

    #[test]
    fn the_body_as_apple_wants_it() {
        let msg = NotifyMessage {
            title: "Hi".into(),
            body: Some("There".into()),
            subtitle: Some("Sub".into()),
            badge: Some(3),
            sound: Some("default".into()),
            data: None,
        };
        let mut data = Map::new();
        data.insert("dataClass".into(), "Employees".into());
        let v: Value = serde_json::from_slice(&body(&msg, &data)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"aps": {"alert": {"title": "Hi", "subtitle": "Sub", "body": "There"},
                "badge": 3, "sound": "default"}, "dataClass": "Employees"})
        );
        let bare: Value = serde_json::from_slice(&body(
            &NotifyMessage {
                title: "T".into(),
                ..Default::default()
            },
            &Map::new(),
        ))
        .unwrap();
        assert_eq!(bare, serde_json::json!({"aps": {"alert": {"title": "T"}}}));
    }

    #[test]
    fn answers() {
        assert_eq!(verdict(&reply(200, "")), Verdict::Sent);
        assert_eq!(
            verdict(&reply(410, r#"{"reason":"Unregistered","timestamp":1}"#)),
            Verdict::Gone("Unregistered".into())
        );
        assert_eq!(
            verdict(&reply(400, r#"{"reason":"BadDeviceToken"}"#)),
            Verdict::Gone("BadDeviceToken".into())
        );
        assert_eq!(
            verdict(&reply(400, r#"{"reason":"DeviceTokenNotForTopic"}"#)),
            Verdict::Failed("400 DeviceTokenNotForTopic".into())
        );
        assert_eq!(
            verdict(&reply(403, r#"{"reason":"ExpiredProviderToken"}"#)),
            Verdict::Expired
        );
        assert!(
            matches!(verdict(&reply(403, r#"{"reason":"InvalidProviderToken"}"#)), Verdict::Config(r) if r.contains("InvalidProviderToken"))
        );
        assert!(matches!(
            verdict(&reply(429, r#"{"reason":"TooManyRequests"}"#)),
            Verdict::Again { .. }
        ));
        let mut busy = reply(503, r#"{"reason":"ServiceUnavailable"}"#);
        busy.headers.insert("retry-after", "5".parse().unwrap());
        assert_eq!(
            verdict(&busy),
            Verdict::Again {
                reason: "503 ServiceUnavailable".into(),
                after: Some(std::time::Duration::from_secs(5))
            }
        );
        assert_eq!(verdict(&reply(413, "")), Verdict::Failed("413".into()));
    }
}
