#!/usr/bin/env bash
# Fleet reports' CSV and Parquet exports read by pandas and pyarrow (the drift venv, which
# tests/drift/setup.sh installs): a real server with --auth basic, a small fleet made through
# the fleet API, `flotilla report --server` writing the tables, their totals checked against
# the API's answers for the same scope. Outputs under target/test-output/reports. Extra
# arguments go to pytest.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/test-output"
venv="$root/.venvs/drift"
mkdir -p "$out"

"$root/tests/drift/setup.sh" || { echo "reports: setup failed" >&2; exit 1; }
FLOTILLA_REPORTS_DIR="$out/reports" "$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" \
  --rootdir "$here" --junitxml="$out/reports.xml" -o junit_suite_name=reports "$@"
status=$?
if [[ $status -ne 0 ]]; then
  echo "reports: FAILED (pytest exit $status)" >&2
  exit 1
fi
echo "reports: passed"
