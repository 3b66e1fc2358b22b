#!/usr/bin/env bash
# The import test: fills a real MLflow server (3.17.2 with the 3.x client, then 2.22.5 with the
# 2.x client) on a SQLite store with tests/import/fill_mlflow.py, imports it into flotilla from
# the database and over REST, and checks every entity through the mlflow client against the
# source (verify_import.py), then what the importer alone promises (import_checks.py: rerun,
# family rules, bad input). Nothing is built here. Environment:
#   FLOTILLA_BIN       the binary (default: target/debug/flotilla under the repo root)
#   IMPORT_PASSES      which passes (default: "3 2")
#   IMPORT_SELF_CHECK  1: no import; the source server is compared with itself (tests the
#                      comparison code alone; on the 2.x pass the artifact check then waits
#                      minutes on the client's retries: MLflow 2.22.5's proxy cannot serve the
#                      fill's non-Latin-1 file name, see verify_import.py)
# The REST import (`--from http://...`) is part of every pass: while the importer refuses it,
# the `[rest]` checks fail with its message (they are not skipped).
# Extra arguments go to pytest, e.g. `run.sh -k registry`.
# JUnit XML, the import and server logs and the manifest land in
# target/test-output/import-mlflow<N>.xml and target/test-output/import-mlflow<N>/
# ($CARGO_TARGET_DIR/test-output when set).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${CARGO_TARGET_DIR:-$root/target}/test-output"
export FLOTILLA_BIN="${FLOTILLA_BIN:-$root/target/debug/flotilla}"

setup="$("$here/setup.sh")" || { echo "import: setup failed" >&2; exit 1; }
server3_venv="${setup#MLFLOW3_SERVER_VENV=}"
mkdir -p "$out"

failed=()
for pass in ${IMPORT_PASSES:-3 2}; do
  case "$pass" in
    3) client=client3 venv="$server3_venv" ;;
    2) client=client2 venv="$root/.venvs/mlflow2-server" ;;
    *) echo "import: unknown pass $pass" >&2; exit 2 ;;
  esac
  echo "=== import: from a real MLflow $("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)') server, checked with $client ==="
  rm -rf "$out/import-mlflow$pass"
  IMPORT_SERVER_VENV="$venv" IMPORT_OUT="$out/import-mlflow$pass" \
    "$root/.venvs/$client/bin/python" -m pytest "$here/verify_import.py" "$here/import_checks.py" \
    -c "$here/pytest.ini" --rootdir "$here" -p no:cacheprovider \
    --junitxml="$out/import-mlflow$pass.xml" -o junit_suite_name="import-mlflow$pass" "$@"
  [[ $? -eq 0 ]] || failed+=("MLflow $pass.x")
done

if ((${#failed[@]})); then
  echo "import: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "import: all passes passed"
