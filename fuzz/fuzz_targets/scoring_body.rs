//! libFuzzer entry for the `scoring_body` target: see `flotilla_fuzz::scoring_body`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::scoring_body(data));
