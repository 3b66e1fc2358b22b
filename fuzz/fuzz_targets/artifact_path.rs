//! libFuzzer entry for the `artifact_path` target: see `flotilla_fuzz::artifact_path`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::artifact_path(data));
