#!/usr/bin/env bash
# Fleet registry benchmark: `flotilla fleet generate` at a million models x 3 versions, start to
# healthy, ten representative searches and facet counts (p50/p99), a bulk promotion over the
# largest family, then MLflow 3.17.2 filled for a few minutes and the same queries as ratios.
# Builds nothing unless BUILD=1. Arguments go to scripts/bench_fleet.py, e.g.
#   scripts/bench-fleet.sh                               # 1,000,000 models, MLflow side included
#   scripts/bench-fleet.sh --models 100000 --skip-mlflow # quick
#   scripts/bench-fleet.sh --out bench-fleet.md
# The MLflow server venv (.venvs/mlflow-server) is the one scripts/bench.sh makes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-target}"
if [[ "${BUILD:-0}" == 1 ]]; then
  cargo build --release -p flotilla
fi
export FLOTILLA_BIN="${FLOTILLA_BIN:-$target/release/flotilla}"
exec python3 scripts/bench_fleet.py --flotilla-bin "$FLOTILLA_BIN" "$@"
