#!/usr/bin/env bash
# Runs the MLflow client compatibility suite with each client venv (client3, then client2).
#
# For each client a fresh flotilla server (fresh data dir, free port) is started and stopped
# again; nothing is built here. Environment:
#   FLOTILLA_BIN       server binary (default: target/debug/flotilla under the repo root)
#   COMPAT_TARGET_URI  run against this already-running server instead (e.g. real MLflow)
#   COMPAT_STRICT      1: assert flotilla's stricter behaviour (default 1 for a started
#                      flotilla, 0 with COMPAT_TARGET_URI)
#   COMPAT_CLIENTS     venvs to use (default: "client3 client2")
# Extra arguments go to pytest, e.g. `run.sh -k registry`.
# JUnit XML and server logs land in test-output/compat-<client>.{xml,server.log}.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FLOTILLA_BIN:-$root/target/debug/flotilla}"
clients="${COMPAT_CLIENTS:-client3 client2}"
out="$root/test-output"

"$here/setup.sh" || { echo "compat: setup failed" >&2; exit 1; }
mkdir -p "$out"

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

# Starts flotilla and sets $uri once /health answers 200 "OK"; fails after 10 s.
start_server() {
  local log="$1" port
  [[ -x "$bin" ]] || { echo "compat: no flotilla binary at $bin (set FLOTILLA_BIN)" >&2; return 1; }
  port="$(free_port)"
  data_dir="$(mktemp -d -t flotilla-compat.XXXXXX)"
  "$bin" server --data-dir "$data_dir" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if [[ "$(curl -s -m 1 "http://127.0.0.1:$port/health" 2>/dev/null)" == "OK" ]]; then
      uri="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "compat: flotilla exited or was not healthy within 10 s; log tail:" >&2
  tail -n 30 "$log" >&2
  return 1
}

failed=()
for client in $clients; do
  echo "=== compat: $client ==="
  log="$out/compat-$client.server.log"
  if [[ -n "${COMPAT_TARGET_URI:-}" ]]; then
    uri="$COMPAT_TARGET_URI"
    strict="${COMPAT_STRICT:-0}"
  elif start_server "$log"; then
    strict=1  # flotilla itself: also check where it is stricter than MLflow
  else
    stop_server
    failed+=("$client(server)")
    continue
  fi
  COMPAT_STRICT="$strict" MLFLOW_TRACKING_URI="$uri" "$root/.venvs/$client/bin/python" -m pytest "$here" \
    -c "$here/pytest.ini" --rootdir "$here" \
    --junitxml="$out/compat-$client.xml" -o junit_suite_name="compat-$client" "$@"
  status=$?
  stop_server
  [[ $status -eq 0 ]] || failed+=("$client")
done

if ((${#failed[@]})); then
  echo "compat: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "compat: all clients passed"
