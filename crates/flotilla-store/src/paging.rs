//! Opaque page tokens for keyset pagination.
//!
//! A token is the sort-key values of the last row of the previous page,
//! serialised as JSON and base64url-encoded. Clients treat it as opaque; the
//! store checks its shape and answers a malformed one with
//! `INVALID_PARAMETER_VALUE`, never a 5xx.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flotilla_core::Error;
use serde_json::Value;

/// Sort-key values as carried in a token.
pub type Cursor = Vec<Value>;

const MAX_TOKEN_LENGTH: usize = 64 * 1024;
/// Most values a token may hold: every `order_by` entry is at most two sort
/// keys, plus the tie-breakers a search appends.
const MAX_TOKEN_VALUES: usize = 2 * flotilla_core::filter::MAX_ORDER_BY + 4;

pub fn encode(cursor: &Cursor) -> String {
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token made by [`encode`] for a sort with `keys` columns.
pub fn decode(token: &str, keys: usize) -> Result<Cursor, Error> {
    let invalid = || Error::invalid(format!("Invalid page token '{}'", flotilla_core::validation::truncate(token, 64)));
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let scalar = |v: &Value| matches!(v, Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_));
    if cursor.len() > MAX_TOKEN_VALUES || cursor.len() != keys || !cursor.iter().all(scalar) {
        return Err(invalid());
    }
    Ok(cursor)
}

/// An empty token means "first page", as MLflow clients send it.
pub fn decode_opt(token: Option<&str>, keys: usize) -> Result<Option<Cursor>, Error> {
    match token {
        Some(t) if !t.is_empty() => decode(t, keys).map(Some),
        Some(_) | None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let c = vec![json!(1.5), json!("abc"), json!(42)];
        assert_eq!(decode(&encode(&c), 3).unwrap(), c);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "!!!", "eyJvZmZzZXQiOiAyfQ==", "bm90IGpzb24", &encode(&vec![json!(1)])] {
            assert!(decode(bad, 2).is_err(), "{bad}");
        }
        assert!(decode(&encode(&vec![json!([1]), json!(2)]), 2).is_err());
        let most = vec![json!(1); MAX_TOKEN_VALUES];
        assert!(decode(&encode(&most), MAX_TOKEN_VALUES).is_ok());
        let past = vec![json!(1); MAX_TOKEN_VALUES + 1];
        assert!(decode(&encode(&past), MAX_TOKEN_VALUES + 1).is_err());
        assert!(decode(&"A".repeat(MAX_TOKEN_LENGTH + 1), 1).is_err());
    }
}
