#!/usr/bin/env bash
# The whole test suite, from a fresh clone: architecture invariants, lints,
# Rust unit and integration tests (real SQLite files, real directories), and
# the compatibility suite that drives the real `mlflow` clients (3.17.2 and
# 2.22.x, installed into venvs under .venvs/ by tests/compat/setup.sh).
#
#   scripts/test.sh            everything
#   SKIP_COMPAT=1 scripts/test.sh   Rust only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n=== %s ===\n' "$*"; }

step "architecture invariants"
scripts/check-invariants.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

if [[ "${SKIP_COMPAT:-0}" != "1" ]]; then
  step "mlflow client compatibility"
  cargo build --locked -p flotilla
  FLOTILLA_BIN="$PWD/target/debug/flotilla" tests/compat/run.sh
fi

step "all tests passed"
