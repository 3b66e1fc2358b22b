#!/usr/bin/env bash
# Trains small models with the reference libraries, saves them as the mlflow
# client does (MLmodel + model file), and records the reference outputs, into
# $1 (default: target/test-output/fixtures, under $CARGO_TARGET_DIR when set). Each
# fixtures_*.py adds its own cases.
#
# Layout: <out>/<case>/model/ (an MLflow model directory) and
#         <out>/<case>/case.json {"input": name, "rows": [[..]], "expected": {output: [[..]]}, "rtol": 1e-5}
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-${CARGO_TARGET_DIR:-$root/target}/test-output/fixtures}"
"$here/setup.sh"
mkdir -p "$out"
for script in "$here"/fixtures_*.py; do
  [[ -e "$script" ]] || continue
  echo "fixtures: $(basename "$script")"
  "$root/.venvs/serving/bin/python" "$script" "$out"
done
echo "$out"
