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
#   SERVING_PG          0: skip the PostgreSQL pass (below); 1 by default when
#                       FLOTILLA_TEST_POSTGRES is set (scripts/test.sh exports it), else 0
#   FLOTILLA_TEST_POSTGRES  the PostgreSQL server for that pass (a superuser conninfo without
#                       dbname); with SERVING_PG=1 and none set, the pass starts one of its own
# Extra arguments go to pytest, e.g. `run.sh -k alias -x`.
# Then (not with SERVING_TARGET_URL) the same suite once more against flotilla on a fresh
# PostgreSQL database (tests/support/with_pg_database.sh sets FLOTILLA_DATABASE_URL, so the
# servers the eviction and serve-mode tests start use it too; dropped afterwards), monitoring on
# as by default, so serving telemetry is checked on PostgreSQL too.
# JUnit XML and the server log land in target/test-output/serving.{xml,server.log}
# (serving-pg.* for the PostgreSQL pass; $CARGO_TARGET_DIR/test-output when set).
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

pytest=("$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" --rootdir "$here")
if [[ -n "${SERVING_TARGET_URL:-}" ]]; then
  echo "=== serving: $SERVING_TARGET_URL (fixtures: $fixtures) ==="
  FLOTILLA_URL="$SERVING_TARGET_URL" FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" "${pytest[@]}" \
    --junitxml="$out/serving.xml" -o junit_suite_name=serving "$@"
  status=$?
  [[ $status -eq 0 ]] || { echo "serving: FAILED (pytest exit $status)" >&2; exit 1; }
  echo "serving: passed"
  exit 0
fi

failed=()
echo "=== serving: flotilla $bin (fixtures: $fixtures) ==="
log="$out/serving.server.log"
FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" \
  python3 "$root/tests/support/flotilla_server.py" --name serving --bin "$bin" --log "$log" \
  --server-args "--model-memory 256MiB --monitor-window 1s" --url-env FLOTILLA_URL -- \
  "${pytest[@]}" --junitxml="$out/serving.xml" -o junit_suite_name=serving "$@"
status=$?
[[ $status -eq 0 ]] || failed+=("SQLite (pytest exit $status; server log: $log)")

pg_wanted="${SERVING_PG:-$([[ -n "${FLOTILLA_TEST_POSTGRES:-}" ]] && echo 1 || echo 0)}"
if [[ "$pg_wanted" == "1" ]]; then
  echo "=== serving (--database postgresql): flotilla $bin ==="
  pg_conninfo="${FLOTILLA_TEST_POSTGRES:-}"
  if [[ -z "$pg_conninfo" ]]; then
    pg_dir="$(mktemp -d /tmp/flotilla-serving-pg.XXXXXX)"
    trap '"$root/scripts/postgres-test-server.sh" stop "$pg_dir"' EXIT
    pg_conninfo="$("$root/scripts/postgres-test-server.sh" start "$pg_dir")" || pg_conninfo=""
  fi
  log="$out/serving-pg.server.log"
  if [[ -z "$pg_conninfo" ]]; then
    failed+=("PostgreSQL server")
  else
    FLOTILLA_FIXTURES="$fixtures" FLOTILLA_BIN="$bin" \
      "$root/tests/support/with_pg_database.sh" "$pg_conninfo" serving -- \
      python3 "$root/tests/support/flotilla_server.py" --name serving-pg --bin "$bin" --log "$log" \
      --server-args "--model-memory 256MiB --monitor-window 1s" --url-env FLOTILLA_URL -- \
      "${pytest[@]}" --junitxml="$out/serving-pg.xml" -o junit_suite_name=serving-pg "$@"
    status=$?
    # The pass counts only if the server really ran on PostgreSQL.
    if ! grep -q "metadata store: PostgreSQL" "$log"; then
      echo "serving: the PostgreSQL pass's server did not run on PostgreSQL (see $log)" >&2
      status=1
    fi
    [[ $status -eq 0 ]] || failed+=("PostgreSQL (pytest exit $status; server log: $log)")
  fi
fi

if ((${#failed[@]})); then
  echo "serving: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "serving: passed"
