//! libFuzzer entry for the `lightgbm` target: see `flotilla_fuzz::lightgbm`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::lightgbm(data));
