#!/usr/bin/env bash
# Checks flotilla's profile sketches with the Apache DataSketches Python package: builds and runs
# the `sketch_bytes` example of flotilla-profile (a generated CSV, its profile's KLL, HLL and
# frequent-items bytes, flotilla's estimates) into target/test-output/profile-sketches, then runs
# pytest on tests/profile with the serving venv (tests/serving/setup.sh installs datasketches).
# Extra arguments go to pytest.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/test-output"
sketches="$out/profile-sketches"
venv="$root/.venvs/serving"
mkdir -p "$out"

"$root/tests/serving/setup.sh" || { echo "profile: setup failed" >&2; exit 1; }
(cd "$root" && cargo build --locked -q -p flotilla-profile --example sketch_bytes) \
  || { echo "profile: building the sketch_bytes example failed" >&2; exit 1; }
rm -rf "$sketches"
"$target/debug/examples/sketch_bytes" "$sketches" >/dev/null \
  || { echo "profile: sketch_bytes failed" >&2; exit 1; }
FLOTILLA_SKETCHES="$sketches" "$venv/bin/python" -m pytest "$here" -c "$here/pytest.ini" \
  --rootdir "$here" --junitxml="$out/profile.xml" -o junit_suite_name=profile "$@"
status=$?
if [[ $status -ne 0 ]]; then
  echo "profile: FAILED (pytest exit $status)" >&2
  exit 1
fi
echo "profile: passed"
