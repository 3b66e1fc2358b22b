//! libFuzzer entry for the `v2_infer` target: see `flotilla_fuzz::v2_infer`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::v2_infer(data));
