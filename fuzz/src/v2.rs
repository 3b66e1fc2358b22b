//! The Open Inference Protocol's infer body: JSON, and JSON plus Triton's
//! binary tail (`flotilla_http::fuzzing::decode_infer_body`).
//!
//! Invariants: a refusal is a 4xx; accepted tensors hold exactly as many
//! elements as their shape says, within the request-wide element cap.

use flotilla_http::fuzzing::decode_infer_body;

/// Cap on elements in one request (`codec::MAX_ELEMENTS`).
const MAX_ELEMENTS: usize = 1 << 24;

/// First byte 0: the rest is a JSON body with no binary tail. Otherwise the
/// next two bytes (little-endian) are `Inference-Header-Content-Length`
/// and the rest is the body.
pub fn v2_infer(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (header_length, body) = match (mode, rest) {
        (0, body) => (None, body),
        (_, [lo, hi, body @ ..]) => (Some(usize::from(u16::from_le_bytes([*lo, *hi]))), body),
        (_, _) => return,
    };
    match decode_infer_body(body, header_length) {
        Ok(tensors) => {
            let mut total = 0usize;
            for t in &tensors {
                let count = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                assert_eq!(count, Some(t.data.len()), "{}: shape {:?} holds {}", t.name, t.shape, t.data.len());
                total += t.data.len();
            }
            assert!(total <= MAX_ELEMENTS, "{total} elements accepted");
        }
        Err((status, message)) => assert!((400..500).contains(&status), "{status}: {message}"),
    }
}
