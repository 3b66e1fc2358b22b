#!/usr/bin/env bash
# Browser tests: installs Debian's Chromium and playwright-core if missing,
# fills a fresh store with `flotilla fleet generate`, starts `flotilla server`
# on it and runs tests/ui/browser.mjs. Screenshots go to test-output/ui/.
#   FLOTILLA_BIN  the binary (default target/debug/flotilla)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bin="${FLOTILLA_BIN:-${CARGO_TARGET_DIR:-target}/debug/flotilla}"
out="$root/test-output/ui"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "== installing Debian's chromium"
  if [[ "$(id -u)" == 0 ]]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
if [[ ! -d tests/ui/node_modules/playwright-core ]]; then
  (cd tests/ui && npm ci --no-audit --no-fund --silent)
fi

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() { [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
"$bin" fleet generate --data-dir "$data" --models 3000 --seed 7 >/dev/null 2>&1
rm -rf "$out" && mkdir -p "$out"
FLOTILLA_LOG=warn "$bin" server --data-dir "$data" --port "$port" >"$out/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
FLOTILLA_URL="http://127.0.0.1:$port" SHOTS="$out" node tests/ui/browser.mjs
