#!/usr/bin/env bash
# Makes sure .venvs/mlflow-server holds mlflow==3.17.2 (the real server the differential suite
# compares flotilla with), installing it the way crates/flotilla-bench/src/venv.rs does:
# idempotent (a venv whose mlflow is 3.17.2 is left alone), the bench's stamp written after, and
# an `.installing` marker while pip runs so the bench waits instead of installing twice.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venvs/mlflow-server"
version="3.17.2"

installed() {
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mlflow') != '$version')" 2>/dev/null
}

if installed && [[ -x "$venv/bin/mlflow" ]]; then
  echo "setup: mlflow-server up to date (mlflow $version)"
  exit 0
fi
mkdir -p "$root/.venvs"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
echo "installing by tests/differential/setup.sh $$" >"$venv/.installing"
trap 'rm -f "$venv/.installing"' EXIT
echo "setup: pip install mlflow==$version (about a minute)"
"$venv/bin/pip" install -q "mlflow==$version"
installed || { echo "setup: mlflow $version not importable after install" >&2; exit 1; }
echo "$version" >"$venv/.flotilla-bench-installed"
