//! Finds where a top-level member's value sits in a JSON object's text, so a
//! single field can be replaced without touching any other byte.

use std::ops::Range;

/// The byte range of the value of `key` in the top-level object of `text`
/// (the last one when the key repeats, as parsers keep the last).
/// `None` when `text` is not an object or has no such key.
pub fn top_level_value(text: &str, key: &str) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut found = None;
    if b.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        let key_end = skip_string(b, i)?;
        let name: String = serde_json::from_str(&text[i..key_end]).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = skip_value(b, start)?;
        if name == key {
            found = Some(start..end);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return found,
            _ => return None,
        }
    }
}

/// Removes the white space between tokens of a JSON text (strings and
/// numbers are kept exactly as written).
pub fn minify(json: &str) -> String {
    // Byte-wise: every byte that matters here is ASCII, so UTF-8 sequences
    // pass through whole.
    let mut out = Vec::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
    // Only ASCII white space was removed, so this cannot fail.
    String::from_utf8(out).unwrap_or_default()
}

/// The byte offset of the first `\u` escape of a UTF-16 surrogate that is
/// not half of a pair, in a text that is otherwise well-formed JSON.
/// serde_json skips such an escape in a value nobody reads, but refuses it
/// when it builds a `serde_json::Value` (a Rust string cannot hold it).
pub fn lone_surrogate(json: &str) -> Option<usize> {
    let b = json.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        if b.get(at..at + 2)? != b"\\u" {
            return None;
        }
        let hex = std::str::from_utf8(b.get(at + 2..at + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut i = 0;
    // Outside strings a well-formed text has no backslash; inside, each one
    // starts a two-byte escape or a `\uXXXX`.
    while let Some(off) = b.get(i..)?.iter().position(|&c| c == b'\\') {
        let at = i + off;
        i = match unit(at) {
            Some(0xD800..=0xDBFF) if matches!(unit(at + 6), Some(0xDC00..=0xDFFF)) => at + 12,
            Some(0xD800..=0xDFFF) => return Some(at),
            Some(_) => at + 6,
            None => at + 2,
        };
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `i` is at a `"`; returns the index after the closing quote.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// Skips one value (string, number, literal, or nested array/object).
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_numbers() {
        let t = "{\r\n  \"a b\" : [ 1.50 , \"x \\\" y\" ],\n\t\"n\": 1e5 }";
        assert_eq!(minify(t), "{\"a b\":[1.50,\"x \\\" y\"],\"n\":1e5}");
    }

    #[test]
    fn lone_surrogates() {
        for (t, want) in [
            (r#"{"x":"\ud83d\ude00"}"#, None),
            (r#"{"x":"\ud83d"}"#, Some(6)),
            (r#"{"x":"\ude00\ud83d"}"#, Some(6)),
            (r#"{"x":"a\\ud83d","y":"\u00e9\ud83dx"}"#, Some(27)),
            (r#"{"x":"\ud83d\u0041"}"#, Some(6)),
            (r#"{"x":"é\"\\\n"}"#, None),
            ("{}", None),
        ] {
            assert_eq!(lone_surrogate(t), want, "{t}");
            // serde_json's Value reading agrees.
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(t).is_ok(),
                want.is_none(),
                "{t}"
            );
        }
    }

    #[test]
    fn finds_top_level_only() {
        let t = r#" { "a": {"status": "x"}, "s\"q": "}", "status" : "pending" ,"z":[1,{"b":2}] }"#;
        let r = top_level_value(t, "status").unwrap();
        assert_eq!(&t[r], "\"pending\"");
        assert_eq!(&t[top_level_value(t, "z").unwrap()], r#"[1,{"b":2}]"#);
        assert_eq!(top_level_value(t, "b"), None);
        assert_eq!(top_level_value("[]", "a"), None);
        assert_eq!(top_level_value("{}", "a"), None);
        assert_eq!(top_level_value("{\"a\":1", "a"), None);
        // An escaped key still matches.
        assert_eq!(
            top_level_value(r#"{"st\u0061tus":true}"#, "status"),
            Some(15..19)
        );
    }

    mod props {
        use super::*;
        use crate::model::testgen::{json_value, layout, Writer};
        use proptest::prelude::*;
        use serde_json::Value;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Arbitrary text never panics the scanners; minify only drops
            /// white space.
            #[test]
            fn any_text_never_panics(t in prop_oneof!["(?s).{0,80}", r#"[{}\[\]",:\\ \nau0-9dD]{0,80}"#]) {
                for key in ["status", "a", ""] {
                    if let Some(r) = top_level_value(&t, key) {
                        prop_assert!(t.get(r).is_some());
                    }
                }
                let m = minify(&t);
                prop_assert!(m.len() <= t.len());
                prop_assert_eq!(minify(&m), m.clone());
                let _ = lone_surrogate(&t);
            }

            /// On a JSON object in any layout: each member's span holds its
            /// value, the minified text is the same value, and a text serde
            /// wrote has no lone surrogate.
            #[test]
            fn spans_and_minify_on_objects(members in proptest::collection::vec(("(?s).{0,6}", json_value()), 0..6), ws in layout()) {
                let written: Vec<(String, &Value)> = members
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()).to_string(), v))
                    .collect();
                let mut w = Writer::new(&ws);
                w.space();
                let spans = w.object(&written);
                let text = w.out;
                let doc: Value = serde_json::from_str(&text).unwrap();
                for (i, (k, _)) in members.iter().enumerate() {
                    // The last of a repeated key is the one parsers keep.
                    if members[i + 1..].iter().any(|(k2, _)| k2 == k) {
                        continue;
                    }
                    let span = top_level_value(&text, k);
                    prop_assert_eq!(span.clone(), Some(spans[i].clone()), "{} in {}", k, text);
                    let v: Value = serde_json::from_str(&text[spans[i].clone()]).unwrap();
                    prop_assert_eq!(Some(&v), doc.get(k));
                }
                let m: Value = serde_json::from_str(&minify(&text)).unwrap();
                prop_assert_eq!(m, doc);
                prop_assert_eq!(lone_surrogate(&text), None);
            }
        }
    }
}
