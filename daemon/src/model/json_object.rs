//! [`ObjectOnly`]: a derived struct read from a JSON object and nothing else.
//!
//! serde's derived `Deserialize` also reads a struct from a JSON *array*,
//! field by field in declaration order, so `{"application":["com.a"]}`
//! would give an `application.id`. 4D reads objects by key only; the typed
//! fast paths wrap their structs in this so an array fails and the
//! `serde_json::Value` reading (which only sees objects) decides.

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// `T` deserialized from a map only.
#[derive(Debug)]
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ObjectOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ObjectOnly)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[derive(serde::Deserialize)]
    struct Obj<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
    }

    #[test]
    fn objects_only() {
        let o: ObjectOnly<Obj> = serde_json::from_str(r#"{"id":"x","other":[1]}"#).unwrap();
        assert_eq!(o.0.id.as_deref(), Some("x"));
        assert!(
            serde_json::from_str::<Obj>(r#"["x"]"#).is_ok(),
            "serde's default"
        );
        assert!(serde_json::from_str::<ObjectOnly<Obj>>(r#"["x"]"#).is_err());
        assert!(serde_json::from_str::<ObjectOnly<Obj>>("null").is_err());
    }
}
