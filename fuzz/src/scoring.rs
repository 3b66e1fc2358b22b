//! MLflow's scoring protocol's bodies (`/invocations`: JSON formats and
//! CSV, `flotilla_http::fuzzing::decode_scoring_body`) and gRPC V2's infer
//! message (`decode_grpc_infer`).
//!
//! Invariants: a refusal is a 4xx; an accepted frame's columns all hold
//! whole rows of the same count, within the cell cap; accepted gRPC tensors
//! hold exactly as many elements as their shapes say, within the V2 cap.

use flotilla_http::fuzzing::{decode_grpc_infer, decode_scoring_body};

/// Cap on cells (and elements) in one request (`codec::MAX_ELEMENTS`).
const MAX_CELLS: usize = 1 << 24;

/// First byte even: the rest is a JSON body; odd: CSV.
pub fn scoring_body(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    match decode_scoring_body(body, mode % 2 == 1) {
        Ok(columns) => {
            let mut rows = None;
            let mut total = 0usize;
            for (name, width, cells) in &columns {
                assert!(*width > 0 || *cells == 0, "{name:?}: {cells} cells of width 0");
                let n = if *width == 0 { 0 } else { cells / width };
                assert_eq!(n * width, *cells, "{name:?}: {cells} cells are not whole rows of {width}");
                if *width > 0 {
                    assert_eq!(*rows.get_or_insert(n), n, "{name:?}: {n} rows");
                }
                total += cells;
            }
            assert!(total <= MAX_CELLS, "{total} cells accepted");
        }
        Err((status, message)) => assert!((400..500).contains(&status), "{status}: {message}"),
    }
}

/// The bytes are a `ModelInferRequest` message.
pub fn grpc_infer(data: &[u8]) {
    match decode_grpc_infer(data) {
        Ok(tensors) => {
            let mut total = 0usize;
            for t in &tensors {
                let count = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                assert_eq!(count, Some(t.data.len()), "{}: shape {:?} holds {}", t.name, t.shape, t.data.len());
                total += t.data.len();
            }
            assert!(total <= MAX_CELLS, "{total} elements accepted");
        }
        Err((status, message)) => assert!((400..500).contains(&status), "{status}: {message}"),
    }
}
