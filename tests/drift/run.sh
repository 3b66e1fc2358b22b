#!/usr/bin/env bash
# Checks flotilla-drift against SciPy and Evidently 0.7.23 on a generated suite of columns: builds
# the `drift_agreement` example of flotilla-drift and runs pytest on tests/drift with the drift
# venv (tests/drift/setup.sh). The test writes the columns under target/test-output/drift and
# prints the agreement figures. Extra arguments go to pytest.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/test-output"
venv="$root/.venvs/drift"
mkdir -p "$out"

"$here/setup.sh" || { echo "drift: setup failed" >&2; exit 1; }
(cd "$root" && cargo build --locked -q -p flotilla-drift --example drift_agreement) \
  || { echo "drift: building the drift_agreement example failed" >&2; exit 1; }
FLOTILLA_DRIFT_EXAMPLE="$target/debug/examples/drift_agreement" FLOTILLA_DRIFT_DIR="$out/drift" \
  "$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" -s \
  --rootdir "$here" --junitxml="$out/drift.xml" -o junit_suite_name=drift "$@"
status=$?
if [[ $status -ne 0 ]]; then
  echo "drift: FAILED (pytest exit $status)" >&2
  exit 1
fi
echo "drift: passed"
