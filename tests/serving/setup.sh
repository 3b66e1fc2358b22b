#!/usr/bin/env bash
# Creates .venvs/serving: the reference libraries the serving tests compare
# flotilla against (xgboost, lightgbm, scikit-learn + skl2onnx + onnxruntime),
# the real tritonclient, and the mlflow client that saves models as users do.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venvs/serving"
# Pins checked to install together on Python 3.11 from PyPI (xgboost-cpu has
# no CUDA wheels to fetch; lightgbm 4.7.0 is what the brief's clients log with).
packages=(
  "mlflow-skinny==3.17.2" "xgboost-cpu==3.2.0" "lightgbm==4.7.0" "scikit-learn==1.9.1"
  "skl2onnx==1.20.0" "onnx==1.23.2" "onnxruntime==1.32.0" "numpy==2.4.6" "pandas==3.1.1"
  "tritonclient[http,grpc]==2.73.0" "pytest==9.2.0"
  # tests/profile: reads flotilla's profile sketches with the reference DataSketches library.
  "datasketches==5.2.0"
  # tests/serving/fixtures_sklearn.py: mlflow.sklearn and mlflow.lightgbm save skops files by default.
  "skops==0.16.0"
)
stamp="$venv/.flotilla-stamp"
mkdir -p "$root/.venvs"
# Helpers and CI may run this at the same time: one installs, the others wait.
exec 9>"$root/.venvs/serving.lock"
flock 9
want="${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup: serving venv up to date"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
echo "$want" > "$stamp"
echo "setup: serving venv ready"
