#!/usr/bin/env bash
# Creates the client venvs the compatibility suite runs in:
#   .venvs/client3  mlflow-skinny 3.17.2 (LoggedModel path: logged-models/*, runs/outputs)
#   .venvs/client2  mlflow-skinny 2.22.5 (old path: runs/log-model)
# Both get the same model libraries: xgboost-cpu (the `xgboost` module without CUDA wheels) and
# pandas, which mlflow.xgboost imports, and what importing MLflow's basic-auth client
# (`mlflow.server.get_app_client("basic-auth")`) needs: the `auth` extra (Flask-WTF), and the
# SQLAlchemy and alembic its package imports (aiohttp too for 3.x; 2.22.5 breaks on
# SQLAlchemy 2.1). Idempotent: a venv whose stamp matches its requirement
# list is left alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venvs="$root/.venvs"
python="${PYTHON:-python3}"

# Shared by both clients; pinned to the versions the suite was validated with.
common=(pytest==9.2.0 xgboost-cpu==3.2.0 pandas==3.1.1 numpy==2.4.6)
client3=(mlflow-skinny==3.17.2 "${common[@]}" Flask-WTF==1.3.0 SQLAlchemy==2.1.9 alembic==1.20.1 aiohttp==3.14.5)
client2=(mlflow-skinny==2.22.5 "${common[@]}" Flask-WTF==1.3.0 SQLAlchemy==2.0.58 alembic==1.20.1)

# `installed VENV name==version...`
. "$root/tests/support/venv_lib.sh"

ensure_venv() {
  local name="$1"; shift
  local dir="$venvs/$name" stamp="$venvs/$name/.compat-stamp"
  local want; want="$(printf '%s\n' "$@")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && installed "$dir" "$@"; then
    echo "setup: $name up to date ($(tr '\n' ' ' <"$stamp"))"
    return
  fi
  echo "setup: creating $name: $*"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  "$dir/bin/python" -c 'import mlflow, mlflow.xgboost, pytest, xgboost, pandas, mlflow.server.auth.client; print("setup:", mlflow.__version__, xgboost.__version__)'
  printf '%s\n' "$want" >"$stamp"
}

mkdir -p "$venvs"
# Two concurrent setups would both rebuild the same venv; serialize them.
exec 9>"$venvs/.compat-setup.lock"
flock 9
ensure_venv client3 "${client3[@]}"
ensure_venv client2 "${client2[@]}"
