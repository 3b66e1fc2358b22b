//! Page tokens (`flotilla_store::paging`), as every MLflow and fleet search
//! reads them.
//!
//! Invariant: a token that decodes has exactly the asked number of scalar
//! keys, and encoding the cursor gives a token that decodes to it again.

use flotilla_store::paging::{decode, decode_opt, encode};
use serde_json::Value;

/// First byte: how many sort keys the search expects (0..=31); the rest:
/// the token text.
pub fn page_token(data: &[u8]) {
    let Some((&keys, rest)) = data.split_first() else { return };
    let Ok(token) = std::str::from_utf8(rest) else { return };
    let keys = usize::from(keys % 32);
    let Ok(cursor) = decode(token, keys) else {
        assert!(decode_opt(Some(token), keys).is_err() || token.is_empty(), "{token:?}");
        return;
    };
    assert_eq!(cursor.len(), keys, "{token:?}");
    assert!(
        cursor.iter().all(|v| matches!(v, Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))),
        "{token:?} -> {cursor:?}"
    );
    let again = encode(&cursor);
    assert_eq!(decode(&again, keys).ok().as_ref(), Some(&cursor), "{token:?} -> {cursor:?} -> {again:?}");
}
