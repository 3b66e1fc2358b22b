#!/usr/bin/env bash
# Runs the V2 serving suite against a fresh flotilla server.
#
# Makes the fixture models (make_fixtures.sh -> target/test-output/fixtures), starts flotilla
# (tests/support/flotilla_server.py: port 0, a temp data dir) with --model-memory 256MiB and 1 s
# telemetry windows, runs
# pytest on tests/serving/test_v2_*.py with the serving venv, and stops the server. Nothing is
# built.
# Environment:
#   FLOTILLA_BIN        server binary (default: target/debug/flotilla under the repo root);
#                       the eviction tests start their own servers from it too
#   FLOTILLA_FIXTURES   use these fixtures instead of making them (skips make_fixtures.sh)
#   SERVING_TARGET_URL  run against this already-running server instead
# Extra arguments go to pytest, e.g. `run.sh -k alias -x`.
# JUnit XML and the server log land in target/test-output/serving.{xml,server.log}
# ($CARGO_TARGET_DIR/test-output when set).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FLOTILLA_BIN:-$root/target/debug/flotilla}"
out="${CARGO_TARGET_DIR:-$root/target}/test-output"
venv="$root/.venvs/serving"
mkdir -p "$out"

if [[ -n "${FLOTILLA_FIXTURES:-}" ]]; then
  fixtures="$FLOTILLA_FIXTURES"
  "$here/setup.sh" || { echo "serving: setup failed" >&2; exit 1; }
else
  # Remade only when a fixture script changed since the last successful run (training every
  # model takes minutes on a busy machine); FLOTILLA_REMAKE_FIXTURES=1 forces it.
  fixtures="$out/fixtures"
  stamp="$fixtures/.made"
  stale="${FLOTILLA_REMAKE_FIXTURES:-0}"
  [[ -f "$stamp" ]] || stale=1
  for f in "$here"/make_fixtures.sh "$here"/setup.sh "$here"/fixtures_*.py; do
    [[ -e "$f" && "$f" -nt "$stamp" ]] && stale=1
  done
  if [[ "$stale" == 1 ]]; then
    rm -rf "$fixtures"
    "$here/make_fixtures.sh" "$fixtures" || { echo "serving: make_fixtures.sh failed" >&2; exit 1; }
    touch "$stamp"
  else
    "$here/setup.sh" || { echo "serving: setup failed" >&2; exit 1; }
    echo "serving: fixtures in $fixtures are up to date"
  fi
fi

log="$out/serving.server.log"
pytest=("$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" --rootdir "$here"
  --junitxml="$out/serving.xml" -o junit_suite_name=serving "$@")
if [[ -n "${SERVING_TARGET_URL:-}" ]]; then
  echo "=== serving: $SERVING_TARGET_URL (fixtures: $fixtures) ==="
  FLOTILLA_URL="$SERVING_TARGET_URL" FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" "${pytest[@]}"
else
  echo "=== serving: flotilla $bin (fixtures: $fixtures) ==="
  FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" \
    python3 "$root/tests/support/flotilla_server.py" --name serving --bin "$bin" --log "$log" \
    --server-args "--model-memory 256MiB --monitor-window 1s" --url-env FLOTILLA_URL -- "${pytest[@]}"
fi
status=$?
if [[ $status -ne 0 ]]; then
  echo "serving: FAILED (pytest exit $status); server log: $log" >&2
  exit 1
fi
echo "serving: passed"
