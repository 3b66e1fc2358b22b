#!/usr/bin/env bash
# End-to-end benchmark: flotilla against the real MLflow 3.17.2 server, side by side.
# Builds both binaries in release mode, then runs flotilla-bench with every argument passed
# through, e.g. `scripts/bench.sh --quick`, `scripts/bench.sh --skip-mlflow --models-large 1000000`,
# `scripts/bench.sh --out bench.md`. The MLflow venv (.venvs/mlflow-server) is created on first
# use by the bench itself. See `flotilla-bench --help`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p flotilla -p flotilla-bench
export FLOTILLA_BIN="${FLOTILLA_BIN:-$target/release/flotilla}"
exec "$target/release/flotilla-bench" "$@"
