//! libFuzzer entry for the `filter` target: see `flotilla_fuzz::filter`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::filter(data));
