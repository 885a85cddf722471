//! Finds where a member's value sits in a JSON object's text, and edits one
//! member — replaced or inserted — without touching any other byte: layout,
//! key order, escapes, a BOM's absence or CRLF ends stay as they were, and an
//! inserted member follows the indentation and separators around it.
//!
//! The text is expected to be JSON a parser accepted (session files are
//! validated first); on anything else these functions return `None`.

use std::ops::Range;

use serde_json::Value;

/// The byte range of the value of `key` in the top-level object of `text`
/// (the last one when the key repeats, as parsers keep the last).
/// `None` when `text` is not an object or has no such key.
pub fn top_level_value(text: &str, key: &str) -> Option<Range<usize>> {
    let obj = object_at(text, skip_ws(text.as_bytes(), 0))?;
    obj.members
        .iter()
        .rev()
        .find(|m| m.key == key)
        .map(|m| m.value.clone())
}

/// `text` (a JSON object) with the member at `path` set to `value`: its
/// value replaced where the member exists (the last one when a key
/// repeats), else the member appended to its object. Objects missing along
/// the path are created; a member along the path that is not an object is
/// replaced by one. Only the bytes of the value replaced, or of the member
/// inserted, change.
pub fn set_member(text: &str, path: &[&str], value: &Value) -> Option<String> {
    let open = skip_ws(text.as_bytes(), 0);
    let style = Style::detect(text, open);
    let edit = set_in(text, open, path, value, &style)?;
    let mut out = String::with_capacity(text.len() + edit.text.len());
    out.push_str(&text[..edit.range.start]);
    out.push_str(&edit.text);
    out.push_str(&text[edit.range.end..]);
    Some(out)
}

/// `text` (a JSON object) without the member at `path` (every member of
/// that name in its object, as parsers keep the last): the member and one
/// separator next to it go, every other byte stays. `text` unchanged when
/// there is no such member; `None` when `text` is not an object.
pub fn remove_member(text: &str, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut out = text.to_string();
    loop {
        let mut open = skip_ws(out.as_bytes(), 0);
        object_at(&out, open)?;
        for key in parents {
            let obj = object_at(&out, open)?;
            match obj.members.iter().rev().find(|m| m.key == *key) {
                Some(m) if out.as_bytes().get(m.value.start) == Some(&b'{') => open = m.value.start,
                _ => return Some(out),
            }
        }
        let obj = object_at(&out, open)?;
        let ms = &obj.members;
        let Some(i) = ms.iter().rposition(|m| m.key == *last) else {
            return Some(out);
        };
        let range = if ms.len() == 1 {
            obj.open + 1..obj.close
        } else if i + 1 == ms.len() {
            ms[i - 1].value.end..ms[i].value.end
        } else {
            ms[i].key_span.start..ms[i + 1].key_span.start
        };
        out.replace_range(range, "");
    }
}

/// One member of an object as written.
struct Member {
    key: String,
    /// The key's string, quotes included.
    key_span: Range<usize>,
    value: Range<usize>,
}

/// An object as written: its braces and members.
struct Object {
    open: usize,
    close: usize,
    members: Vec<Member>,
}

/// Reads the object whose `{` is at `open`.
fn object_at(text: &str, open: usize) -> Option<Object> {
    let b = text.as_bytes();
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Some(Object {
            open,
            close: i,
            members,
        });
    }
    loop {
        let key_end = skip_string(b, i)?;
        let key: String = serde_json::from_str(text.get(i..key_end)?).ok()?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, colon + 1);
        let end = skip_value(b, start)?;
        members.push(Member {
            key,
            key_span: i..key_end,
            value: start..end,
        });
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => {
                return Some(Object {
                    open,
                    close: i,
                    members,
                })
            }
            _ => return None,
        }
    }
}

/// A replacement of `range` by `text`.
struct Edit {
    range: Range<usize>,
    text: String,
}

/// How the document writes what we add: line ends, indentation unit (when
/// pretty), and the separators of single-line containers.
struct Style {
    newline: &'static str,
    /// The indentation of one level; `None` when the document is one line.
    unit: Option<String>,
    colon: String,
    comma: String,
}

impl Style {
    fn detect(text: &str, open: usize) -> Self {
        let newline = match text.find('\n') {
            Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
            _ => "\n",
        };
        let (mut colon, mut comma) = (":".to_string(), ",".to_string());
        let mut unit = None;
        if let Some(obj) = object_at(text, open) {
            if let Some(first) = obj.members.first() {
                let before = &text[obj.open + 1..first.key_span.start];
                unit = before.rfind('\n').map(|p| before[p + 1..].to_string());
            }
            // Separators from the last members: where 4D appends, and less
            // likely hand-edited than the first.
            if let Some(last) = obj.members.last() {
                colon = text[last.key_span.end..last.value.start].to_string();
            }
            if let [.., a, b] = obj.members.as_slice() {
                let between = &text[a.value.end..b.key_span.start];
                if !between.contains('\n') {
                    comma = between.trim_start().to_string();
                }
            }
        }
        // A separator is written between tokens: only blanks and its sign.
        if colon.contains('\n') {
            colon = colon.split_whitespace().collect();
        }
        Self {
            newline,
            unit,
            colon,
            comma,
        }
    }

    fn unit(&self) -> &str {
        self.unit.as_deref().unwrap_or("  ")
    }
}

/// How a value is written: on one line, or one member per line with
/// `indent` the indentation of the line the value starts on.
enum Layout<'a> {
    Inline,
    Pretty { indent: &'a str },
}

fn set_in(text: &str, open: usize, path: &[&str], value: &Value, style: &Style) -> Option<Edit> {
    let obj = object_at(text, open)?;
    let (key, rest) = path.split_first()?;
    let Some(i) = obj.members.iter().rposition(|m| m.key == *key) else {
        return Some(insert(text, &obj, key, &nest(rest, value), style));
    };
    let m = &obj.members[i];
    if !rest.is_empty() && text.as_bytes().get(m.value.start) == Some(&b'{') {
        return set_in(text, m.value.start, rest, value, style);
    }
    let value = nest(rest, value);
    let indent = member_indent(text, &obj, i);
    let old = &text[m.value.clone()];
    // Keep a one-line container on one line; otherwise follow the object.
    let one_line_container = !old.contains('\n')
        && !matches!(old, "{}" | "[]")
        && matches!(old.as_bytes().first(), Some(b'{' | b'['));
    let layout = match &indent {
        Some(indent) if !one_line_container => Layout::Pretty { indent },
        _ => Layout::Inline,
    };
    let mut out = String::new();
    render(&mut out, &value, &layout, style);
    Some(Edit {
        range: m.value.clone(),
        text: out,
    })
}

/// `{rest[0]: {rest[1]: … value}}`, or `value` itself when `rest` is empty.
fn nest(rest: &[&str], value: &Value) -> Value {
    rest.iter().rev().fold(value.clone(), |v, k| {
        let mut m = serde_json::Map::new();
        m.insert((*k).to_string(), v);
        Value::Object(m)
    })
}

/// Appends `key: value` to `obj`, written like its last member.
fn insert(text: &str, obj: &Object, key: &str, value: &Value, style: &Style) -> Edit {
    let mut out = String::new();
    let Some(last) = obj.members.last() else {
        // An empty object: pretty when the document is.
        let range = obj.open + 1..obj.close;
        match &style.unit {
            Some(unit) => {
                let outer = line_indent(text, obj.open);
                let inner = format!("{outer}{unit}");
                out.push_str(style.newline);
                out.push_str(&inner);
                push_member(
                    &mut out,
                    key,
                    &style.colon,
                    value,
                    &Layout::Pretty { indent: &inner },
                    style,
                );
                out.push_str(style.newline);
                out.push_str(outer);
            }
            None => push_member(&mut out, key, &style.colon, value, &Layout::Inline, style),
        }
        return Edit { range, text: out };
    };
    let n = obj.members.len();
    let separator = if n >= 2 {
        text[obj.members[n - 2].value.end..last.key_span.start].to_string()
    } else {
        let before = &text[obj.open + 1..last.key_span.start];
        if before.contains('\n') {
            format!(",{before}")
        } else {
            style.comma.clone()
        }
    };
    out.push_str(&separator);
    let colon = &text[last.key_span.end..last.value.start];
    let indent = member_indent(text, obj, n - 1);
    let layout = match &indent {
        Some(indent) => Layout::Pretty { indent },
        None => Layout::Inline,
    };
    push_member(&mut out, key, colon, value, &layout, style);
    Edit {
        range: last.value.end..last.value.end,
        text: out,
    }
}

/// The indentation of member `i` when it starts a line of its own.
fn member_indent(text: &str, obj: &Object, i: usize) -> Option<String> {
    let prev_end = match i {
        0 => obj.open + 1,
        _ => obj.members[i - 1].value.end,
    };
    let between = &text[prev_end..obj.members[i].key_span.start];
    let p = between.rfind('\n')?;
    Some(
        between[p + 1..]
            .chars()
            .take_while(|c| matches!(c, ' ' | '\t'))
            .collect(),
    )
}

/// The blanks that start the line holding byte `pos`.
fn line_indent(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |p| p + 1);
    let line = &text[start..pos];
    let end = line
        .find(|c: char| !matches!(c, ' ' | '\t'))
        .unwrap_or(line.len());
    &line[..end]
}

fn push_member(
    out: &mut String,
    key: &str,
    colon: &str,
    value: &Value,
    layout: &Layout<'_>,
    style: &Style,
) {
    out.push_str(&Value::String(key.to_string()).to_string());
    out.push_str(colon);
    render(out, value, layout, style);
}

/// Writes `value` in the document's style.
fn render(out: &mut String, value: &Value, layout: &Layout<'_>, style: &Style) {
    let (open, close, items): (char, char, Vec<(Option<&String>, &Value)>) = match value {
        Value::Object(m) if !m.is_empty() => {
            ('{', '}', m.iter().map(|(k, v)| (Some(k), v)).collect())
        }
        Value::Array(a) if !a.is_empty() => ('[', ']', a.iter().map(|v| (None, v)).collect()),
        // Scalars and empty containers: serde_json writes them as 4D does
        // (numbers keep their text: arbitrary_precision).
        _ => {
            out.push_str(&value.to_string());
            return;
        }
    };
    out.push(open);
    match layout {
        Layout::Inline => {
            for (n, (key, v)) in items.into_iter().enumerate() {
                if n > 0 {
                    out.push_str(&style.comma);
                }
                if let Some(k) = key {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(&style.colon);
                }
                render(out, v, layout, style);
            }
        }
        Layout::Pretty { indent } => {
            let inner = format!("{indent}{}", style.unit());
            for (n, (key, v)) in items.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(style.newline);
                out.push_str(&inner);
                if let Some(k) = key {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(&style.colon);
                }
                render(out, v, &Layout::Pretty { indent: &inner }, style);
            }
            out.push_str(style.newline);
            out.push_str(indent);
        }
    }
    out.push(close);
}

/// Removes the white space between tokens of a JSON text (strings and
/// numbers are kept exactly as written).
pub fn minify(json: &str) -> String {
    // Byte-wise: every byte that matters here is ASCII, so UTF-8 sequences
    // pass through whole. Runs between white space are copied at once.
    let b = json.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            out.extend_from_slice(&b[run..i]);
            run = i + 1;
        }
    }
    out.extend_from_slice(&b[run..]);
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
    // `find` of one ASCII character is a memchr: most texts have no backslash.
    while let Some(off) = json.get(i..)?.find('\\') {
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
                        depth = depth.checked_sub(1)?;
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
    use proptest::prelude::*;
    use serde_json::json;

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

    fn set(text: &str, path: &[&str], value: Value) -> String {
        let out = set_member(text, path, &value).unwrap();
        // Whatever the layout, the result is the JSON expected.
        let mut expected: Value = serde_json::from_str(text).unwrap();
        set_value(&mut expected, path, value);
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            expected,
            "{out}"
        );
        out
    }

    /// The reference semantics of `set_member`, on a parsed value.
    fn set_value(doc: &mut Value, path: &[&str], value: Value) {
        let (key, rest) = path.split_first().unwrap();
        let Value::Object(m) = doc else {
            unreachable!()
        };
        if rest.is_empty() {
            m.insert((*key).to_string(), value);
            return;
        }
        let slot = m.entry(key.to_string()).or_insert_with(|| json!({}));
        if !slot.is_object() {
            *slot = json!({});
        }
        set_value(slot, rest, value);
    }

    #[test]
    fn replaces_a_value_in_place() {
        let t = "{\"a\" : 1 ,\"b\":{\"c\" :\"x\", \"d\":2}}\n";
        assert_eq!(
            set(t, &["a"], json!(true)),
            "{\"a\" : true ,\"b\":{\"c\" :\"x\", \"d\":2}}\n"
        );
        assert_eq!(
            set(t, &["b", "c"], json!("y")),
            "{\"a\" : 1 ,\"b\":{\"c\" :\"y\", \"d\":2}}\n"
        );
        // A repeated key: the last one is the one parsers keep.
        let dup = r#"{"s":"a","s":"b"}"#;
        assert_eq!(set(dup, &["s"], json!("c")), r#"{"s":"a","s":"c"}"#);
    }

    #[test]
    fn inserts_like_the_neighbours_pretty() {
        let t = "{\n    \"a\": 1,\n    \"dev\": {\n        \"id\": \"x\"\n    }\n}\n";
        assert_eq!(
            set(t, &["dev", "token"], json!("t")),
            "{\n    \"a\": 1,\n    \"dev\": {\n        \"id\": \"x\",\n        \"token\": \"t\"\n    }\n}\n"
        );
        assert_eq!(
            set(t, &["userInfo"], json!({"n": [1, {"k": null}], "e": {}})),
            "{\n    \"a\": 1,\n    \"dev\": {\n        \"id\": \"x\"\n    },\n    \"userInfo\": {\n        \"n\": [\n            1,\n            {\n                \"k\": null\n            }\n        ],\n        \"e\": {}\n    }\n}\n"
        );
        // A missing parent is created, in the same style.
        assert_eq!(
            set(t, &["session", "ip"], json!("::1")),
            "{\n    \"a\": 1,\n    \"dev\": {\n        \"id\": \"x\"\n    },\n    \"session\": {\n        \"ip\": \"::1\"\n    }\n}\n"
        );
    }

    #[test]
    fn keeps_crlf_tabs_and_one_line_styles() {
        let t = "{\r\n\t\"a\": 1,\r\n\t\"o\": {}\r\n}";
        assert_eq!(
            set(t, &["o", "k"], json!([1])),
            "{\r\n\t\"a\": 1,\r\n\t\"o\": {\r\n\t\t\"k\": [\r\n\t\t\t1\r\n\t\t]\r\n\t}\r\n}"
        );
        // Python's json.dumps: ", " and ": " on one line.
        let p = r#"{"a": {"x": 1}, "b": 2}"#;
        assert_eq!(
            set(p, &["c"], json!({"y": [1, 2]})),
            r#"{"a": {"x": 1}, "b": 2, "c": {"y": [1, 2]}}"#
        );
        assert_eq!(
            set(p, &["a", "z"], json!(3)),
            r#"{"a": {"x": 1, "z": 3}, "b": 2}"#
        );
        // A one-line object inside a pretty document stays on one line.
        let mixed = "{\n  \"d\": {\"id\": \"x\"},\n  \"l\": {\"a\": 1}\n}";
        assert_eq!(
            set(mixed, &["d", "t"], json!("y")),
            "{\n  \"d\": {\"id\": \"x\",\"t\": \"y\"},\n  \"l\": {\"a\": 1}\n}"
        );
        assert_eq!(
            set(mixed, &["l"], json!({"b": 2})),
            "{\n  \"d\": {\"id\": \"x\"},\n  \"l\": {\"b\": 2}\n}"
        );
    }

    #[test]
    fn replaces_a_member_that_is_not_an_object_along_the_path() {
        let t = "{\n  \"device\": null\n}";
        assert_eq!(
            set(t, &["device", "token"], json!("t")),
            "{\n  \"device\": {\n    \"token\": \"t\"\n  }\n}"
        );
        assert_eq!(set("{}", &["a", "b"], json!(1)), r#"{"a":{"b":1}}"#);
        assert_eq!(
            set(" { } ", &["a"], json!("é\u{1}")),
            " {\"a\":\"é\\u0001\"} "
        );
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        for bad in ["[]", "", "{\"a\":1", "{\"a\" 1}", "\"x\"", "{\"a\":}"] {
            assert_eq!(set_member(bad, &["a"], &json!(1)), None, "{bad:?}");
        }
        assert_eq!(set_member("{}", &[], &json!(1)), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec!["a", "b", "id", "é", "q\"x", "token"]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-z é\"\\\\]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    fn arb_object() -> impl Strategy<Value = Value> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "device", "é"]),
                arb_json(),
            ),
            0..5,
        )
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    fn pretty(v: &Value, indent: &[u8]) -> String {
        use serde::Serialize;
        let mut out = Vec::new();
        let f = serde_json::ser::PrettyFormatter::with_indent(indent);
        v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, f))
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    proptest! {
        /// Set into a document written by serde_json (compact, or pretty
        /// with any indentation, LF or CRLF): the result is exactly what
        /// serde_json writes for the changed document — every other byte
        /// kept, the new member written like its neighbours.
        #[test]
        fn edits_match_a_fresh_serialisation(
            doc in arb_object(),
            path in prop::collection::vec(prop::sample::select(vec!["a", "b", "device", "token", "é"]), 1..3),
            value in arb_json(),
            style in 0..5usize,
        ) {
            let write = |v: &Value| match style {
                0 => v.to_string(),
                1 => pretty(v, b"  "),
                2 => pretty(v, b"    "),
                3 => pretty(v, b"\t"),
                _ => pretty(v, b"  ").replace('\n', "\r\n"),
            };
            // An empty document says nothing of its style.
            prop_assume!(style == 0 || doc.as_object().is_some_and(|m| !m.is_empty()));
            let text = write(&doc);
            let mut expected = doc.clone();
            set_value(&mut expected, &path, value.clone());
            let out = set_member(&text, &path, &value).unwrap();
            prop_assert_eq!(out, write(&expected));
        }
    }

    mod props {
        use super::*;
        use crate::model::testgen::{json_value, layout, Writer};
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

    #[test]
    fn remove_member_takes_one_member_and_its_separator() {
        let cases = [
            (
                r#"{"a":1,"device":{"id":"x","token":"t"}}"#,
                r#"{"a":1,"device":{"id":"x"}}"#,
            ),
            (
                r#"{"device":{"token":"t","id":"x"}}"#,
                r#"{"device":{"id":"x"}}"#,
            ),
            (
                r#"{"device":{"token":"t"},"b":2}"#,
                r#"{"device":{},"b":2}"#,
            ),
            (
                "{\r\n  \"device\": {\r\n    \"id\": \"x\",\r\n    \"token\": \"t\"\r\n  }\r\n}",
                "{\r\n  \"device\": {\r\n    \"id\": \"x\"\r\n  }\r\n}",
            ),
            (
                "{\n  \"device\": {\n    \"token\": \"t\",\n    \"os\": \"iOS\"\n  }\n}",
                "{\n  \"device\": {\n    \"os\": \"iOS\"\n  }\n}",
            ),
            // Every member of that name goes.
            (
                r#"{"device":{"token":"a","id":"x","token":"b"}}"#,
                r#"{"device":{"id":"x"}}"#,
            ),
            // Nothing to remove: unchanged.
            (r#"{"device":{"id":"x"}}"#, r#"{"device":{"id":"x"}}"#),
            (r#"{"device":"str"}"#, r#"{"device":"str"}"#),
            (r#"{"a":1}"#, r#"{"a":1}"#),
        ];
        for (before, after) in cases {
            assert_eq!(
                remove_member(before, &["device", "token"]).as_deref(),
                Some(after),
                "{before}"
            );
            let _: Value = serde_json::from_str(after).unwrap();
        }
        assert_eq!(remove_member("[1]", &["device", "token"]), None);
    }
}
