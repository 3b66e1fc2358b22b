//! `NaN`, `Infinity` and `-Infinity` in infer requests.
//!
//! JSON has no literal for them, but Python's `json` module writes them bare
//! (so `tritonclient` sends `NaN` for a missing feature) and Triton's parser
//! accepts them. serde_json does not, so before parsing, bare literals outside
//! strings are turned into the strings `"NaN"`, `"Infinity"` and `"-Infinity"`,
//! which the float decoders read back as numbers. Bodies without any of them
//! (nearly all) are passed through untouched.

use std::borrow::Cow;

const LITERALS: [&[u8]; 3] = [b"NaN", b"Infinity", b"-Infinity"];

/// The body with every bare non-finite literal quoted.
pub fn quote_literals(body: &[u8]) -> Cow<'_, [u8]> {
    if !contains(body, b"NaN") && !contains(body, b"Infinity") {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < body.len() {
        let byte = body[i];
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                (false, _) => {}
            }
        } else if byte == b'"' {
            in_string = true;
        } else if let Some(literal) = LITERALS.iter().find(|l| body[i..].starts_with(l)) {
            out.push(b'"');
            out.extend_from_slice(literal);
            out.push(b'"');
            i += literal.len();
            continue;
        }
        out.push(byte);
        i += 1;
    }
    Cow::Owned(out)
}

/// The float a quoted literal stands for.
pub fn parse_literal(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        String::from_utf8(quote_literals(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn quotes_bare_literals_only() {
        assert_eq!(quoted(r#"[1.5, NaN, Infinity, -Infinity]"#), r#"[1.5, "NaN", "Infinity", "-Infinity"]"#);
        assert_eq!(quoted(r#"{"id": "NaN", "x": [NaN]}"#), r#"{"id": "NaN", "x": ["NaN"]}"#);
        assert_eq!(quoted(r#"{"id": "a\"NaN", "x": -Infinity}"#), r#"{"id": "a\"NaN", "x": "-Infinity"}"#);
        assert_eq!(quoted(r#"{"id": "a\\", "x": NaN}"#), r#"{"id": "a\\", "x": "NaN"}"#);
    }

    #[test]
    fn leaves_ordinary_bodies_borrowed() {
        assert!(matches!(quote_literals(br#"{"inputs": [1, 2]}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn reads_literals_back() {
        assert!(parse_literal("NaN").unwrap().is_nan());
        assert_eq!(parse_literal("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_literal("nan"), None);
    }
}
