//! libFuzzer entry for the `onnx` target: see `flotilla_fuzz::onnx`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::onnx(data));
