//! libFuzzer entry for the `artifact_uri` target: see `flotilla_fuzz::artifact_uri`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::artifact_uri(data));
