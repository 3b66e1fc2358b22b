#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test command: installs PostgreSQL
# from Debian's packages when its binaries are missing, then initdb + pg_ctl
# into DIR (as the unprivileged `postgres` user when run as root, as CI is),
# listening on a unix socket in DIR only.
#
#   scripts/postgres-test-server.sh start DIR   prints the conninfo (no dbname)
#   scripts/postgres-test-server.sh stop DIR
set -euo pipefail
cmd="${1:?start|stop}"
dir="${2:?directory}"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg=()
if [[ "$(id -u)" == 0 ]]; then as_pg=(runuser -u postgres --); fi

case "$cmd" in
  start)
    bin="${FLOTILLA_PG_BIN:-$(pg_bin)}"
    if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
      echo "installing PostgreSQL (postgresql-15) from Debian's packages" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
      bin="$(pg_bin)"
    fi
    mkdir -p "$dir"
    if [[ ${#as_pg[@]} -gt 0 ]]; then chown postgres: "$dir"; fi
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
      --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >&2
    echo "host=$dir port=5432 user=postgres"
    ;;
  stop)
    bin="${FLOTILLA_PG_BIN:-$(pg_bin)}"
    if [[ -d "$dir/data" ]]; then
      "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
