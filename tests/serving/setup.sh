#!/usr/bin/env bash
# Creates .venvs/serving: the reference libraries the serving tests compare
# flotilla against (xgboost, lightgbm, scikit-learn + skl2onnx + onnxruntime),
# the real tritonclient, and the mlflow client that saves models as users do.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venvs/serving"
packages=(
  "mlflow-skinny==3.17.2" "xgboost-cpu==3.2.0" "lightgbm==4.6.0" "scikit-learn==1.7.2"
  "skl2onnx==1.19.1" "onnx==1.19.1" "onnxruntime==1.23.2" "numpy<2.4" "pandas<3.2" "tritonclient[http]==2.62.0" "pytest==9.2.0"
)
stamp="$venv/.flotilla-stamp"
want="${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup: serving venv up to date"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
echo "$want" > "$stamp"
echo "setup: serving venv ready"
