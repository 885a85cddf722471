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
}
