#!/usr/bin/env bash
# One model through V2 JSON, MLflow's scoring protocol (/invocations, JSON and CSV) and gRPC V2,
# one connection each, one load generator (h2load), medians of 5 runs: scripts/bench_protocols.py.
# Installs h2load (Debian's nghttp2-client) and the serving venv; builds nothing unless BUILD=1.
#   scripts/bench-protocols.sh                       # 1 and 100 rows, 20,000 requests x 5 runs each
#   scripts/bench-protocols.sh --rows 1 --requests 5000 --reps 3   # a smoke run
# FLOTILLA_BIN picks the binary (default target/release/flotilla); FLOTILLA_FIXTURES the fixtures.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-target}"
if [[ "${BUILD:-0}" == 1 ]]; then
  cargo build --release -p flotilla
fi
if ! command -v h2load >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null
fi
tests/serving/setup.sh
fixtures="${FLOTILLA_FIXTURES:-$target/test-output/fixtures}"
[[ -d "$fixtures" ]] || tests/serving/make_fixtures.sh "$fixtures"
exec .venvs/serving/bin/python scripts/bench_protocols.py --flotilla-bin "${FLOTILLA_BIN:-$target/release/flotilla}" \
  --fixtures "$fixtures" "$@"
