#!/usr/bin/env bash
# Serving benchmark: flotilla against MLServer 1.7.1 over V2 (same models, same load generator,
# side by side), then flotilla alone serving a fleet of 100,000 models within 1 GiB.
# Prepares what it needs: wrk (apt), .venvs/serving (tests/serving/setup.sh) and .venvs/mlserver
# (mlserver 1.7.1 with the sklearn and xgboost runtimes, uvloop<0.22). Builds nothing unless
# BUILD=1 (then `cargo build --release -p flotilla`). Arguments go to scripts/bench_serving.py:
#   scripts/bench-serving.sh                        # everything (about 15 minutes)
#   scripts/bench-serving.sh --fleet 0              # side by side only
#   scripts/bench-serving.sh --skip-side-by-side --fleet 10000
#   scripts/bench-serving.sh --seconds 3 --reps 1 --fleet 2000 --mlserver-fleet 100   # smoke run
#   scripts/bench-serving.sh --out bench-serving.md
# FLOTILLA_BIN picks the binary (default target/release/flotilla, else target/debug/flotilla).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-target}"
if [[ "${BUILD:-0}" == 1 ]]; then
  cargo build --release -p flotilla
fi
if [[ -z "${FLOTILLA_BIN:-}" ]]; then
  if [[ -x "$target/release/flotilla" ]]; then FLOTILLA_BIN="$target/release/flotilla"; else FLOTILLA_BIN="$target/debug/flotilla"; fi
fi
export FLOTILLA_BIN

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
tests/serving/setup.sh

mlserver_packages=("mlserver==1.7.1" "mlserver-sklearn==1.7.1" "mlserver-xgboost==1.7.1" "uvloop<0.22"
                   "scikit-learn==1.9.1" "xgboost-cpu==3.2.0")
venv=".venvs/mlserver"
mkdir -p .venvs
(
  flock 9
  want="${mlserver_packages[*]}"
  if [[ ! -f "$venv/.flotilla-stamp" || "$(cat "$venv/.flotilla-stamp")" != "$want" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${mlserver_packages[@]}"
    echo "$want" > "$venv/.flotilla-stamp"
  fi
) 9>.venvs/mlserver.lock

exec .venvs/serving/bin/python scripts/bench_serving.py --flotilla-bin "$FLOTILLA_BIN" "$@"
