#!/usr/bin/env bash
# The differential suite: the same raw REST calls sent to a live MLflow 3.17.2 (started here on a
# fresh SQLite store with its artifact proxy) and to a fresh flotilla, answers compared field by
# field; fails on any difference not listed in expected.py and on any listed one that is gone.
# See diff.py; test_compare.py checks the comparison itself first. Environment:
#   FLOTILLA_BIN            server binary (default: target/debug/flotilla under the repo root)
#   FLOTILLA_TEST_POSTGRES  a PostgreSQL server (superuser conninfo without dbname, as
#                           scripts/test.sh exports it): a second pass runs flotilla on a fresh
#                           database of it (tests/support/with_pg_database.sh), against a fresh
#                           MLflow again; DIFF_PG=0 skips that pass
# Extra arguments go to diff.py (e.g. `-k registry`). The log (every difference, listed or not,
# and both servers' error messages) and JUnit XML land in target/test-output/differential.{log,xml}
# (differential-pg.* for the PostgreSQL pass; $CARGO_TARGET_DIR/test-output when set), with both
# servers' logs beside them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${CARGO_TARGET_DIR:-$root/target}/test-output"
python="$root/.venvs/mlflow-server/bin/python"
bin="${FLOTILLA_BIN:-$root/target/debug/flotilla}"

"$here/setup.sh"
# The comparison itself first (tables, no server).
"$python" -m unittest "$here/test_compare.py"
failed=()
"$python" "$here/diff.py" --bin "$bin" --out "$out" "$@" || failed+=(SQLite)

if [[ -n "${FLOTILLA_TEST_POSTGRES:-}" && "${DIFF_PG:-1}" == "1" ]]; then
  echo "=== differential (--database postgresql) ==="
  FLOTILLA_MONITOR=off "$root/tests/support/with_pg_database.sh" "$FLOTILLA_TEST_POSTGRES" differential -- \
    "$python" "$here/diff.py" --bin "$bin" --out "$out" --name differential-pg "$@" || failed+=(PostgreSQL)
  # The pass counts only if the server really ran on PostgreSQL.
  if ! grep -q "metadata store: PostgreSQL" "$out/differential-pg-flotilla.log"; then
    echo "differential: the PostgreSQL pass's server did not run on PostgreSQL" >&2
    failed+=("PostgreSQL (not used)")
  fi
fi

if ((${#failed[@]})); then
  echo "differential: FAILED: ${failed[*]}" >&2
  exit 1
fi
