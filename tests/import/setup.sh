#!/usr/bin/env bash
# Makes the venvs the import test needs, besides the client venvs of tests/compat/setup.sh
# (client3: mlflow-skinny 3.17.2, client2: mlflow-skinny 2.22.5, both with xgboost and pandas):
#   the MLflow 3.17.2 server: .venvs/mlflow-server when flotilla-bench has installed it there
#     (its stamp `.flotilla-bench-installed` says 3.17.2; that venv is the bench's, never
#     installed into from here), else .venvs/mlflow3-server of our own;
#   the MLflow 2.22.5 server: .venvs/mlflow2-server (full mlflow, SQLAlchemy kept below 2.1,
#     which 2.22.5 breaks on).
# Idempotent: a venv whose stamp matches its requirement list is left alone. Prints nothing on
# stdout but, last, the line `MLFLOW3_SERVER_VENV=<dir>` for run.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venvs="$root/.venvs"
python="${PYTHON:-python3}"

server3=(mlflow==3.17.2)
server2=(mlflow==2.22.5 SQLAlchemy==2.0.58)

"$root/tests/compat/setup.sh" >&2

# `installed VENV name==version...`
. "$root/tests/support/venv_lib.sh"

ensure_venv() {
  local name="$1"; shift
  local dir="$venvs/$name" stamp="$venvs/$name/.import-stamp"
  local want; want="$(printf '%s\n' "$@")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && installed "$dir" "$@"; then
    echo "setup: $name up to date ($(tr '\n' ' ' <"$stamp"))" >&2
    return
  fi
  echo "setup: creating $name: $*" >&2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  "$dir/bin/python" -c 'import mlflow.server; print("setup: mlflow", mlflow.__version__)' >&2
  printf '%s\n' "$want" >"$stamp"
}

mkdir -p "$venvs"
exec 9>"$venvs/.import-setup.lock"
flock 9
bench_venv="$venvs/mlflow-server"
if [[ "$(cat "$bench_venv/.flotilla-bench-installed" 2>/dev/null)" == "3.17.2" ]] && installed "$bench_venv" "${server3[@]}"; then
  echo "setup: using flotilla-bench's $bench_venv (mlflow 3.17.2)" >&2
  server3_venv="$bench_venv"
else
  ensure_venv mlflow3-server "${server3[@]}"
  server3_venv="$venvs/mlflow3-server"
fi
ensure_venv mlflow2-server "${server2[@]}"
echo "MLFLOW3_SERVER_VENV=$server3_venv"
