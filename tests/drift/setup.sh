#!/usr/bin/env bash
# Creates .venvs/drift: the references the drift statistics are checked against (SciPy, and
# Evidently, whose per-column verdicts flotilla-drift follows). Its own venv because Evidently
# needs pandas 2 (0.7.23 imports a pandas internal that pandas 3 removed), where the serving venv
# has pandas 3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venvs/drift"
# Pins checked to install together on Python 3.11 from PyPI.
packages=("evidently==0.7.23" "pandas==2.3.3" "numpy==2.4.6" "scipy==1.17.1" "pytest==9.2.0")
stamp="$venv/.flotilla-stamp"
mkdir -p "$root/.venvs"
# Helpers and CI may run this at the same time: one installs, the others wait.
exec 9>"$root/.venvs/drift.lock"
flock 9
want="${packages[*]}"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "setup: drift venv up to date"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
echo "$want" > "$stamp"
echo "setup: drift venv ready"
