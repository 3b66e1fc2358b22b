#!/usr/bin/env bash
# Browser tests: installs Debian's Chromium and playwright-core if missing,
# fills a fresh store with `flotilla fleet generate`, starts `flotilla server`
# on it (tests/support/flotilla_server.py, with --monitor-window 1s) and runs
# tests/ui/browser.mjs and tests/ui/monitor.mjs; then tests/ui/reports.mjs (fleet reports)
# on it the same way (with a daily fleet report scheduled every 2 s); then starts it again on the same store with --auth basic and runs
# tests/ui/login.mjs and tests/ui/monitor.mjs. Then, on PostgreSQL, the same without auth (below).
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

# Once more on PostgreSQL (UI_PG=1, the default when FLOTILLA_TEST_POSTGRES names a server, as
# scripts/test.sh does): the same fleet generated into a fresh database (`fleet generate
# --database`, loaded with COPY), the pages, monitoring and reports tests against a server on it
# (screenshots under pg/). The pass counts only if the server's log says it ran on PostgreSQL.
if [[ "${UI_PG:-$([[ -n "${FLOTILLA_TEST_POSTGRES:-}" ]] && echo 1 || echo 0)}" == "1" ]]; then
  pg_conninfo="${FLOTILLA_TEST_POSTGRES:-}"
  if [[ -z "$pg_conninfo" ]]; then
    pg_dir="$(mktemp -d /tmp/flotilla-ui-pg.XXXXXX)"
    trap 'rm -rf "$data"; scripts/postgres-test-server.sh stop "$pg_dir"' EXIT
    pg_conninfo="$(scripts/postgres-test-server.sh start "$pg_dir")"
  fi
  pg_data="$(mktemp -d)"
  mkdir -p "$out/pg"
  FLOTILLA_LOG=warn SHOTS="$out/pg" tests/support/with_pg_database.sh "$pg_conninfo" ui -- sh -c '
    "$1" fleet generate --data-dir "$2" --models 3000 --seed 7 >/dev/null 2>&1 &&
    python3 tests/support/flotilla_server.py --name ui-pg --bin "$1" --data-dir "$2" --log "$3/server.log" \
      --server-args "--monitor-window 1s" -- sh -c "node tests/ui/browser.mjs && node tests/ui/monitor.mjs" &&
    python3 tests/support/flotilla_server.py --name ui-pg-reports --bin "$1" --data-dir "$2" \
      --log "$3/server-reports.log" --server-args "--report daily: --report-every 2s" -- node tests/ui/reports.mjs
  ' sh "$bin" "$pg_data" "$out/pg"
  rm -rf "$pg_data"
  grep -q "metadata store: PostgreSQL" "$out/pg/server.log" ||
    { echo "ui: the PostgreSQL pass's server did not run on PostgreSQL (see $out/pg/server.log)" >&2; exit 1; }
fi
