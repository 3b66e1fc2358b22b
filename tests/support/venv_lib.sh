# Shell helpers the suites' setup scripts source (`. tests/support/venv_lib.sh`).

# True when every `name==version` is installed in venv $1 (metadata only: importing mlflow
# takes seconds).
installed() {
  local dir="$1"; shift
  "$dir/bin/python" - "$@" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (spec.split("==") for spec in sys.argv[1:])))
PY
}
