#!/usr/bin/env bash
# The differential suite: the same raw REST calls sent to a live MLflow 3.17.2 (started here on a
# fresh SQLite store with its artifact proxy) and to a fresh flotilla, answers compared field by
# field; fails on any difference not listed in expected.py and on any listed one that is gone.
# See diff.py; test_compare.py checks the comparison itself first. Environment:
#   FLOTILLA_BIN   server binary (default: target/debug/flotilla under the repo root)
# Extra arguments go to diff.py (e.g. `-k registry`). The log (every difference, listed or not,
# and both servers' error messages) and JUnit XML land in target/test-output/differential.{log,xml}
# ($CARGO_TARGET_DIR/test-output when set), with both servers' logs beside them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${CARGO_TARGET_DIR:-$root/target}/test-output"

"$here/setup.sh"
# The comparison itself first (tables, no server).
"$root/.venvs/mlflow-server/bin/python" -m unittest "$here/test_compare.py"
exec "$root/.venvs/mlflow-server/bin/python" "$here/diff.py" --bin "${FLOTILLA_BIN:-$root/target/debug/flotilla}" \
  --out "$out" "$@"
