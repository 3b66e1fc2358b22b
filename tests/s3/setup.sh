#!/usr/bin/env bash
# Creates .venvs/s3: moto's S3 server (`moto_server`, in memory), the local S3 the Rust tests
# (flotilla-testkit's TempS3) and the compat suite's S3 pass start on a free loopback port.
# Idempotent: a venv whose stamp matches the requirement list is left alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="$root/.venvs/s3"
python="${PYTHON:-python3}"
want="moto[server]==5.2.5"

mkdir -p "$root/.venvs"
exec 9>"$root/.venvs/.s3-setup.lock"
flock 9
if [[ -f "$dir/.s3-stamp" && "$(cat "$dir/.s3-stamp")" == "$want" && -x "$dir/bin/moto_server" ]]; then
  echo "setup: s3 up to date ($want)"
  exit 0
fi
echo "setup: creating s3: $want"
rm -rf "$dir"
"$python" -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check "$want"
"$dir/bin/moto_server" --help >/dev/null
printf '%s\n' "$want" >"$dir/.s3-stamp"
