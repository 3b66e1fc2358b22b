//! libFuzzer entry for the `xgboost_json` target: see `flotilla_fuzz::xgboost_json`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::xgboost_json(data));
