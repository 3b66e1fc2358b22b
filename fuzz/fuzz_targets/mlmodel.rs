//! libFuzzer entry for the `mlmodel` target: see `flotilla_fuzz::mlmodel`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::mlmodel(data));
