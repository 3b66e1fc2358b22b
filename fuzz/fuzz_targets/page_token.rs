//! libFuzzer entry for the `page_token` target: see `flotilla_fuzz::page_token`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::page_token(data));
