#!/usr/bin/env bash
# Builds the libFuzzer binaries on the stable toolchain: LLVM's SanitizerCoverage
# pass (inline 8-bit counters, PC table, comparison tracing) through stable
# `-C` flags, libFuzzer itself from the `libfuzzer-sys` crate. `--target` keeps
# the flags off build scripts and proc macros. Binaries land in
# $FUZZ_TARGET_DIR/<triple>/fuzz/ (default: target/fuzz under the workspace).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
triple="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$root/target/fuzz}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
cd "$root"
cargo build --locked --profile fuzz --target "$triple" -p flotilla-fuzz --features libfuzzer --bins "$@"
echo "$CARGO_TARGET_DIR/$triple/fuzz"
