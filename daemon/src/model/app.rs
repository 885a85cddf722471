//! What names an app: its id, display name and team, as a session file or
//! the folder's `manifest.json` says. The views cache it per folder so that
//! `apps` and APP arguments never read a file.

use serde::Deserialize;
use std::borrow::Cow;

use super::json_object::ObjectOnly;
use super::session::strip_bom;

/// An app's id, display name and team id (`None` without a team).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppLabel {
    pub app_id: String,
    pub name: Option<String>,
    pub team_id: Option<String>,
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    application: Option<ObjectOnly<Part<'a>>>,
    #[serde(borrow)]
    team: Option<ObjectOnly<Part<'a>>>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

/// Reads `application.id`, `application.name` and `team.id` from a session
/// file or a manifest; `None` when the text has no string `application.id`.
/// Fields of other types are ignored, as 4D does.
pub fn app_label(bytes: &[u8]) -> Option<AppLabel> {
    let text = std::str::from_utf8(strip_bom(bytes)).ok()?;
    // Typed first (borrowing, skips everything else); a value parse when a
    // field has an unexpected type.
    let (app_id, name, team_id) = match serde_json::from_str::<ObjectOnly<Doc>>(text) {
        Ok(ObjectOnly(doc)) => {
            let ObjectOnly(app) = doc.application?;
            (
                app.id?.into_owned(),
                app.name.map(Cow::into_owned),
                doc.team.and_then(|t| t.0.id).map(Cow::into_owned),
            )
        }
        Err(_) => {
            let v: serde_json::Value = serde_json::from_str(text).ok()?;
            let s = |a: &str, b: &str| v.get(a)?.get(b)?.as_str().map(str::to_string);
            (
                s("application", "id")?,
                s("application", "name"),
                s("team", "id"),
            )
        }
    };
    Some(AppLabel {
        app_id,
        name,
        team_id: team_id.filter(|t| !t.is_empty()),
    })
}

/// What a folder is known by: a session's label, else its manifest's (with
/// the team taken from the folder name when the manifest has none), else the
/// folder name itself as the app id (an Android folder is its bundle id).
pub fn folder_label(
    folder: &str,
    from_session: Option<&AppLabel>,
    from_manifest: Option<&AppLabel>,
) -> AppLabel {
    if let Some(l) = from_session {
        return l.clone();
    }
    if let Some(m) = from_manifest {
        let team_id = m.team_id.clone().or_else(|| {
            folder
                .strip_suffix(m.app_id.as_str())
                .and_then(|t| t.strip_suffix('.'))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        });
        return AppLabel {
            team_id,
            ..m.clone()
        };
    }
    AppLabel {
        app_id: folder.to_string(),
        name: None,
        team_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_sessions_and_manifests() {
        let l = app_label(
            br#"{"application":{"id":"com.a","name":"A","version":1},"team":{"id":"T"}}"#,
        )
        .unwrap();
        assert_eq!(
            l,
            AppLabel {
                app_id: "com.a".into(),
                name: Some("A".into()),
                team_id: Some("T".into())
            }
        );
        // A name of another type is ignored; an empty team is no team.
        let l = app_label(br#"{"application":{"id":"com.a","name":7},"team":{"id":""}}"#).unwrap();
        assert_eq!((l.name, l.team_id), (None, None));
        assert_eq!(app_label(b"[]"), None);
        // Arrays are not objects (serde's derive would read them by position).
        assert_eq!(app_label(br#"[["com.a","A"],null]"#), None);
        assert_eq!(app_label(br#"{"application":["com.a","A"]}"#), None);
        let l = app_label(br#"{"application":{"id":"com.a"},"team":["T"]}"#).unwrap();
        assert_eq!(l.team_id, None);
        assert_eq!(app_label(br#"{"application":{"name":"x"}}"#), None);

        let manifest = AppLabel {
            app_id: "com.a".into(),
            name: Some("A".into()),
            team_id: None,
        };
        assert_eq!(
            folder_label("T1.com.a", None, Some(&manifest))
                .team_id
                .as_deref(),
            Some("T1")
        );
        assert_eq!(folder_label("com.b", None, None).app_id, "com.b");
    }

    mod props {
        use super::*;
        use crate::model::testgen::{damaged, json_value, layout, Writer};
        use proptest::prelude::*;
        use serde_json::Value;

        const MANIFEST: &[u8] = br#"{"application":{"id":"com.a","name":"A"},"team":{"id":"T"},"info":{"target":"iOS"}}"#;

        /// The label read the plain way, from a `Value`.
        fn plain(text: &str) -> Option<AppLabel> {
            let v: Value = serde_json::from_str(text).ok()?;
            let o = v.as_object()?;
            let s = |a: &str, b: &str| o.get(a)?.as_object()?.get(b)?.as_str().map(str::to_string);
            Some(AppLabel {
                app_id: s("application", "id")?,
                name: s("application", "name"),
                team_id: s("team", "id").filter(|t| !t.is_empty()),
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn hostile_bytes_never_panic(bytes in damaged(MANIFEST)) {
                let _ = app_label(&bytes);
            }

            /// On any JSON document, the typed reading and the plain one agree.
            #[test]
            fn agrees_with_a_plain_reading(
                app in json_value(),
                team in json_value(),
                id in prop_oneof![json_value(), ".{0,8}".prop_map(Value::String)],
                ws in layout(),
            ) {
                let mut doc = serde_json::Map::new();
                let app = match app {
                    Value::Object(mut o) => {
                        o.insert("id".into(), id);
                        Value::Object(o)
                    }
                    other => other,
                };
                doc.insert("application".into(), app);
                doc.insert("team".into(), team);
                let mut w = Writer::new(&ws);
                w.value(&Value::Object(doc));
                prop_assert_eq!(app_label(w.out.as_bytes()), plain(&w.out), "{}", w.out);
            }
        }
    }
}
