//! Fuzzing harnesses: one function per target, taking the fuzzer's bytes to
//! the real entry point the server calls with them and asserting what must
//! hold of the result. The libFuzzer binaries (`fuzz_targets/`, feature
//! `libfuzzer`) and the corpus replay (`tests/replay.rs`) call the same
//! functions; `docs/fuzzing.md` says how to run a target.

mod filter;
mod models;
mod paths;
mod scoring;
mod tokens;
mod v2;

pub use filter::{filter, order_by, render};
pub use models::{let_caught_panics_unwind, lightgbm, mlmodel, onnx, ubjson, xgboost_json};
pub use paths::{artifact_path, artifact_uri};
pub use scoring::{grpc_infer, scoring_body};
pub use tokens::page_token;
pub use v2::v2_infer;

/// A harness: panics when the input breaks an invariant of its target.
pub type Harness = fn(&[u8]);

/// Every target by name, as the corpus folders are named.
pub const TARGETS: &[(&str, Harness)] = &[
    ("filter", filter),
    ("order_by", order_by),
    ("artifact_path", artifact_path),
    ("artifact_uri", artifact_uri),
    ("page_token", page_token),
    ("v2_infer", v2_infer),
    ("scoring_body", scoring_body),
    ("grpc_infer", grpc_infer),
    ("xgboost_json", xgboost_json),
    ("ubjson", ubjson),
    ("lightgbm", lightgbm),
    ("onnx", onnx),
    ("mlmodel", mlmodel),
];
