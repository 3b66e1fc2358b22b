#!/usr/bin/env bash
# Browser tests: installs Debian's Chromium and playwright-core if missing,
# fills a fresh store with `flotilla fleet generate`, starts `flotilla server`
# on it (tests/support/flotilla_server.py, with --monitor-window 1s) and runs
# tests/ui/browser.mjs and tests/ui/monitor.mjs; then tests/ui/reports.mjs (fleet reports)
# on it the same way (with a daily fleet report scheduled every 2 s); then starts it again on the same store with --auth basic and runs
# tests/ui/login.mjs and tests/ui/monitor.mjs.
# Screenshots and the server log go to target/test-output/ui/ ($CARGO_TARGET_DIR
# when set).
#   FLOTILLA_BIN  the binary (default target/debug/flotilla)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin="${FLOTILLA_BIN:-${CARGO_TARGET_DIR:-target}/debug/flotilla}"
out="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$root/target")/test-output/ui"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing Debian's chromium"
  if [[ "$(id -u)" == 0 ]]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
if [[ ! -d tests/ui/node_modules/playwright-core ]]; then
  (cd tests/ui && npm ci --no-audit --no-fund --silent)
fi

data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
"$bin" fleet generate --data-dir "$data" --models 3000 --seed 7 >/dev/null 2>&1
rm -rf "$out" && mkdir -p "$out"
FLOTILLA_LOG=warn SHOTS="$out" python3 tests/support/flotilla_server.py --name ui --bin "$bin" \
  --data-dir "$data" --log "$out/server.log" --server-args "--monitor-window 1s" \
  -- sh -c 'node tests/ui/browser.mjs && node tests/ui/monitor.mjs'
FLOTILLA_LOG=warn SHOTS="$out" python3 tests/support/flotilla_server.py --name ui-reports --bin "$bin" \
  --data-dir "$data" --log "$out/server-reports.log" --server-args "--report daily: --report-every 2s" \
  -- node tests/ui/reports.mjs
admin_password="ui-admin-$RANDOM-$RANDOM"
FLOTILLA_LOG=warn FLOTILLA_AUTH=basic FLOTILLA_ADMIN_PASSWORD="$admin_password" ADMIN_PASSWORD="$admin_password" \
  SHOTS="$out" python3 tests/support/flotilla_server.py --name ui-auth --bin "$bin" \
  --data-dir "$data" --log "$out/server-auth.log" --server-args "--monitor-window 1s" \
  -- sh -c 'node tests/ui/login.mjs && node tests/ui/monitor.mjs'
