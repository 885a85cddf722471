//! What the model's tests build from: plain records and disk entries, and
//! the proptest generators of their properties — JSON values, JSON texts
//! laid out in any style, session documents, and damaged bytes.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::names::app_folder;
use super::session::{content_hash, Fault, Invalid, SessionRecord};
use super::token;
use super::view::DiskEntry;
use mobile_session_proto::Status;

/// A record of session `id` whose content is `text` (two records are the
/// same content when their texts are).
pub fn record(id: &str, status: Status, text: &str) -> Arc<SessionRecord> {
    Arc::new(SessionRecord {
        id: id.into(),
        status,
        device_id: None,
        email: None,
        device: "null".into(),
        hash: content_hash(text.as_bytes()),
        claims: 0,
        token_hash: super::session::token_hash(id),
        seen: Default::default(),
    })
}

/// A valid, accepted file named `name` whose content is `text`.
pub fn valid_entry(name: &str, text: &str) -> DiskEntry {
    DiskEntry {
        name: name.into(),
        state: Ok(record(name, Status::Accepted, text)),
    }
}

/// A file named `name` that is not well-formed JSON.
pub fn invalid_entry(name: &str) -> DiskEntry {
    DiskEntry {
        name: name.into(),
        state: Err(Invalid::new(Fault::Json, "x")),
    }
}

/// Any JSON value, a few levels deep, with any Unicode in its strings.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "(?s).{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("(?s).{0,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The white space between tokens: compact, pretty, tabs, CRLF.
pub fn layout() -> impl Strategy<Value = Vec<&'static str>> {
    vec(
        prop_oneof![
            Just(""),
            Just(" "),
            Just("\n  "),
            Just("\r\n\t"),
            Just("\n"),
        ],
        1..8,
    )
}

/// Writes JSON texts with the white space of a layout, cycling through it.
pub struct Writer<'a> {
    pub out: String,
    ws: &'a [&'static str],
    n: usize,
}

impl<'a> Writer<'a> {
    pub fn new(ws: &'a [&'static str]) -> Self {
        Self {
            out: String::new(),
            ws,
            n: 0,
        }
    }

    pub fn space(&mut self) {
        if !self.ws.is_empty() {
            self.out.push_str(self.ws[self.n % self.ws.len()]);
            self.n += 1;
        }
    }

    /// A value, objects and arrays laid out with the white space.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                let members: Vec<(String, &Value)> = m
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()).to_string(), v))
                    .collect();
                self.object(&members);
            }
            Value::Array(a) => {
                self.out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.space();
                    self.value(x);
                    self.space();
                }
                self.out.push(']');
            }
            leaf => self.out.push_str(&leaf.to_string()),
        }
    }

    /// An object whose keys are given as written (quoted, maybe escaped).
    /// Returns where each member's value starts and ends.
    pub fn object(&mut self, members: &[(String, &Value)]) -> Vec<std::ops::Range<usize>> {
        let mut spans = Vec::new();
        self.out.push('{');
        self.space();
        for (i, (key, v)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
                self.space();
            }
            self.out.push_str(key);
            self.space();
            self.out.push(':');
            self.space();
            let start = self.out.len();
            self.value(v);
            spans.push(start..self.out.len());
            self.space();
        }
        self.out.push('}');
        spans
    }
}

/// A valid session file, as 4D or a future 4D may write it.
#[derive(Debug, Clone)]
pub struct SessionDoc {
    pub folder: String,
    /// The file name (the id, in any case).
    pub name: String,
    pub status: Status,
    pub bytes: Vec<u8>,
    /// Where the text of the `status` value that counts (the last) sits.
    pub status_span: std::ops::Range<usize>,
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Accepted), Just(Status::Pending)]
}

/// Valid session documents: random extra fields and Unicode, any key
/// order and layout, maybe a BOM, CRLF, an escaped key, an earlier
/// duplicate `status`.
pub fn session_doc() -> impl Strategy<Value = SessionDoc> {
    let ids = prop_oneof!["[0-9a-f]{40}", "[0-9A-F]{32}"];
    let extras = vec(("[a-z]{1,6}_x|(?s).{0,6}_y", json_value()), 0..4);
    (
        (".{1,12}", proptest::option::of(".{0,10}"), ids, status()),
        (json_value(), ".{0,12}", extras, layout()),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (app_id, team, id, status),
                (device_extra, email, extras, ws),
                (bom, escaped_key, escaped_value, dup, shuffle),
            )| {
                let tok = token::encode(&app_id, &id, team.as_deref());
                let mut device = serde_json::json!({"id": "D-1", "extra": device_extra});
                if let Some(o) = device.as_object_mut() {
                    o.insert("description".into(), Value::String(email.clone()));
                }
                let mut members: Vec<(String, Value)> = vec![
                    (
                        "application".into(),
                        serde_json::json!({"id": app_id, "name": "Ñame ✓", "version": "1.0"}),
                    ),
                    ("email".into(), Value::String(email)),
                    ("device".into(), device),
                    (
                        "session".into(),
                        serde_json::json!({"id": id, "ip": "::ffff:10.0.0.1"}),
                    ),
                    ("token".into(), Value::String(tok)),
                ];
                if let Some(t) = &team {
                    members.push(("team".into(), serde_json::json!({ "id": t })));
                }
                for (k, v) in extras {
                    members.push((k, v));
                }
                // Keys as written; a shuffle of the order.
                let mut written: Vec<(String, Value)> = members
                    .into_iter()
                    .map(|(k, v)| (Value::String(k).to_string(), v))
                    .collect();
                let n = written.len();
                for i in (1..n).rev() {
                    let j = (shuffle.rotate_left(i as u32) % (i as u64 + 1)) as usize;
                    written.swap(i, j);
                }
                let key = if escaped_key {
                    r#""st\u0061tus""#
                } else {
                    r#""status""#
                };
                let at = (shuffle % (n as u64 + 1)) as usize;
                if dup {
                    written.insert(0, (key.into(), Value::String("bogus".into())));
                }
                // The real status: a placeholder, its text written below.
                written.insert(at + usize::from(dup), (key.into(), Value::Null));
                let refs: Vec<(String, &Value)> =
                    written.iter().map(|(k, v)| (k.clone(), v)).collect();
                let mut w = Writer::new(&ws);
                let spans = w.object(&refs);
                let slot = spans[at + usize::from(dup)].clone();
                let lit = if escaped_value {
                    format!(
                        "\"\\u{:04x}{}\"",
                        u32::from(status.as_str().as_bytes()[0]),
                        &status.as_str()[1..]
                    )
                } else {
                    format!("\"{status}\"")
                };
                let mut text = w.out;
                text.replace_range(slot.clone(), &lit);
                let prefix = if bom { "\u{feff}" } else { "" };
                let start = prefix.len() + slot.start;
                SessionDoc {
                    folder: app_folder(&app_id, team.as_deref()),
                    name: if shuffle % 3 == 0 {
                        id.to_ascii_lowercase()
                    } else {
                        id
                    },
                    status,
                    bytes: format!("{prefix}{text}").into_bytes(),
                    status_span: start..start + lit.len(),
                }
            },
        )
}

/// Bytes: random, or a real file with a few bytes overwritten, inserted or
/// cut.
pub fn damaged(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..300),
        vec((any::<usize>(), any::<u8>(), 0..3u8), 1..8).prop_map(move |edits| {
            let mut b = seed.to_vec();
            for (at, byte, how) in edits {
                let at = at % (b.len() + 1);
                match how {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ => b.truncate(at.max(1)),
                }
            }
            b
        }),
    ]
}
