#!/usr/bin/env bash
# Web UI benchmark: every page type's time at a million models (the fleet
# generator's store), p50/p99 against the 50 ms target. Builds nothing unless
# BUILD=1. Arguments go to scripts/bench_ui.py, e.g.
#   scripts/bench-ui.sh                              # generates 1,000,000 models first
#   scripts/bench-ui.sh --data-dir /tmp/fleet1m      # reuse a generated store
#   scripts/bench-ui.sh --models 100000 --reps 20    # quick
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-target}"
if [[ "${BUILD:-0}" == 1 ]]; then
  cargo build --release -p flotilla
fi
exec python3 scripts/bench_ui.py --flotilla-bin "${FLOTILLA_BIN:-$target/release/flotilla}" "$@"
