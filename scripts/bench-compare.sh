#!/usr/bin/env bash
# Before/after benchmark of two flotilla binaries in one sitting, flotilla
# alone (no peer): the tracking, serving, fleet and web UI benches, each run
# on binary A then binary B with the same client, so a refactor can be held
# to "within a few percent of before". Usage:
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [OUT_DIR]
# Sizes are reduced (200,000-model fleets, a 20,000-model serving fleet) so
# the whole run takes ~15 minutes on 2 cores; the per-bench scripts take the
# full sizes. Each bench's markdown lands in OUT_DIR/<bench>-{a,b}.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
a="$(realpath "$1")"; b="$(realpath "$2")"
out="${3:-target/bench-compare}"
mkdir -p "$out"
out="$(realpath "$out")"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p flotilla-bench
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
tests/serving/setup.sh >&2  # the venv with mlflow and xgboost the serving bench trains its model in
for side in a b; do
  bin="$a"; [[ $side == b ]] && bin="$b"
  echo "== tracking ($side: $bin)" >&2
  "$target/release/flotilla-bench" --skip-mlflow --models-large 0 --flotilla-bin "$bin" --out "$out/tracking-$side.md"
  echo "== serving ($side)" >&2
  .venvs/serving/bin/python scripts/bench_serving.py --flotilla-bin "$bin" --skip-side-by-side --fleet 20000 \
    --mlserver-fleet 0 --fleet-seconds 15 --cold-samples 100 --out "$out/serving-$side.md"
  echo "== fleet ($side)" >&2
  python3 scripts/bench_fleet.py --flotilla-bin "$bin" --skip-mlflow --models 200000 --reps 50 --out "$out/fleet-$side.md"
  echo "== ui ($side)" >&2
  python3 scripts/bench_ui.py --flotilla-bin "$bin" --models 200000 --big-model-versions 20000 --reps 20 --out "$out/ui-$side.md"
done
for bench in tracking serving fleet ui; do
  echo "### $bench: A = $a"; cat "$out/$bench-a.md"
  echo "### $bench: B = $b"; cat "$out/$bench-b.md"
done
