#!/usr/bin/env bash
# Runs the V2 serving suite against a fresh flotilla server.
#
# Makes the fixture models (make_fixtures.sh -> test-output/fixtures), starts flotilla on a
# free port over a temp data dir with --model-memory 256MiB, runs pytest on
# tests/serving/test_v2_*.py with the serving venv, and stops the server. Nothing is built.
# Environment:
#   FLOTILLA_BIN        server binary (default: target/debug/flotilla under the repo root);
#                       the eviction tests start their own servers from it too
#   FLOTILLA_FIXTURES   use these fixtures instead of making them (skips make_fixtures.sh)
#   SERVING_TARGET_URL  run against this already-running server instead
# Extra arguments go to pytest, e.g. `run.sh -k alias -x`.
# JUnit XML and the server log land in test-output/serving.{xml,server.log}.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FLOTILLA_BIN:-$root/target/debug/flotilla}"
out="$root/test-output"
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

server_pid="" data_dir=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
  fi
  [[ -n "$data_dir" ]] && rm -rf "$data_dir"
  data_dir=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

log="$out/serving.server.log"
if [[ -n "${SERVING_TARGET_URL:-}" ]]; then
  url="$SERVING_TARGET_URL"
else
  [[ -x "$bin" ]] || { echo "serving: no flotilla binary at $bin (set FLOTILLA_BIN)" >&2; exit 1; }
  port="$(free_port)"
  data_dir="$(mktemp -d -t flotilla-serving.XXXXXX)"
  "$bin" server --data-dir "$data_dir" --host 127.0.0.1 --port "$port" --model-memory 256MiB >"$log" 2>&1 &
  server_pid=$!
  url=""
  for _ in $(seq 100); do
    if [[ "$(curl -s -m 1 "http://127.0.0.1:$port/health" 2>/dev/null)" == "OK" ]]; then
      url="http://127.0.0.1:$port"
      break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$url" ]]; then
    echo "serving: flotilla exited or was not healthy within 10 s; log tail:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
fi

echo "=== serving: $url (fixtures: $fixtures) ==="
FLOTILLA_URL="$url" FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" \
  "$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" --rootdir "$here" \
  --junitxml="$out/serving.xml" -o junit_suite_name=serving "$@"
status=$?
stop_server
if [[ $status -ne 0 ]]; then
  echo "serving: FAILED (pytest exit $status); server log: $log" >&2
  exit 1
fi
echo "serving: passed"
