//! libFuzzer entry for the `order_by` target: see `flotilla_fuzz::order_by`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::order_by(data));
