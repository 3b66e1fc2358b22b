//! libFuzzer entry for the `ubjson` target: see `flotilla_fuzz::ubjson`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::ubjson(data));
