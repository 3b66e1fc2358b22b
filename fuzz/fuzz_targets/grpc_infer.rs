//! libFuzzer entry for the `grpc_infer` target: see `flotilla_fuzz::grpc_infer`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flotilla_fuzz::grpc_infer(data));
