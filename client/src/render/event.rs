//! `watch`: one line per event.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use mobile_session::Event;
use serde_json::{json, Map, Value};

use super::change::push_json;
use super::{printable, Paint, View};

/// An event's time as RFC 3339 (UTC, milliseconds).
fn event_time(e: &Event) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(e.time_ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// One line per event; its JSON has only the fields the event carries.
pub fn event(e: &Event, view: &View) -> String {
    if view.json {
        let mut m = Map::new();
        m.insert("time".into(), json!(event_time(e)));
        m.insert("event".into(), json!(e.kind.as_str()));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("app", e.app.as_ref().map(|a| json!(a)));
        put("id", e.id.as_ref().map(|i| json!(i)));
        put("status", e.status.map(|s| json!(s.as_str())));
        put("code", e.code.map(|c| json!(c)));
        put("push", e.push.as_ref().map(push_json));
        put("count", e.count.map(|c| json!(c)));
        put("message", e.message.as_ref().map(|m| json!(m)));
        put("notify", e.notify.as_ref().map(super::notify::counts_json));
        return format!("{}\n", Value::Object(m));
    }
    if view.quiet {
        return e
            .id
            .as_ref()
            .map(|id| format!("{id}\n"))
            .unwrap_or_default();
    }
    let mut line = format!("{} {}", event_time(e), e.kind.as_str());
    match (&e.app, &e.id) {
        (Some(a), Some(i)) => {
            let _ = write!(line, " {a}/{i}");
        }
        (Some(a), None) => {
            let _ = write!(line, " {a}");
        }
        _ => {}
    }
    if let Some(s) = e.status {
        let _ = write!(line, " {}", view.status_word(s.as_str()));
    }
    if let Some(c) = e.code {
        let _ = write!(line, " {}", view.paint(&format!("code {c}"), Paint::Red));
    }
    if let Some(p) = &e.push {
        let _ = write!(line, " {p}");
    }
    if let Some(n) = e.count {
        let _ = write!(line, " ({n})");
    }
    if let Some(n) = &e.notify {
        let _ = write!(
            line,
            " {} sent, {} failed, {} skipped, {} tokens removed",
            n.sent, n.failed, n.skipped, n.tokens_removed
        );
    }
    if let Some(m) = &e.message {
        let _ = write!(line, ": {m}");
    }
    format!("{}\n", printable(&line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobile_session::EventKind;

    #[test]
    fn events_carry_a_time_and_only_their_fields() {
        let mut e = Event::new(EventKind::Deleted);
        e.time_ms = 1_700_000_000_123;
        e.app = Some("com.x".into());
        e.id = Some("abcd".into());
        let v: Value = serde_json::from_str(&event(
            &e,
            &View {
                json: true,
                ..View::default()
            },
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"time": "2023-11-14T22:13:20.123Z", "event": "deleted", "app": "com.x", "id": "abcd"})
        );
        assert!(
            event(&e, &View::default()).starts_with("2023-11-14T22:13:20.123Z deleted com.x/abcd")
        );
    }
}
