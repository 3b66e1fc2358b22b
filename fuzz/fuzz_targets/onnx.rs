//! libFuzzer entry for the `onnx` target: see `flotilla_fuzz::onnx`. Panics
//! that `flotilla-infer` catches (inside tract) are not findings; see
//! `flotilla_fuzz::let_caught_panics_unwind`.

#![no_main]

libfuzzer_sys::fuzz_target!(init: flotilla_fuzz::let_caught_panics_unwind(), |data: &[u8]| flotilla_fuzz::onnx(data));
