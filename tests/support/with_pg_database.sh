#!/usr/bin/env bash
# Runs a command with a fresh, empty PostgreSQL database, for the suites' PostgreSQL passes.
#
#   tests/support/with_pg_database.sh CONNINFO NAME -- command args...
#
# CONNINFO is a superuser libpq conninfo without `dbname` (what scripts/postgres-test-server.sh
# prints, and scripts/test.sh exports as FLOTILLA_TEST_POSTGRES). Creates the database
# `flotilla_NAME_<random>` on that server, runs the command with FLOTILLA_DATABASE_URL set to the
# new database's conninfo (so a `flotilla server` started by the command runs on it, as with
# `--database`), then drops the database whatever the command did (`WITH (FORCE)`: a server
# killed mid-request may leave a connection behind) and exits with the command's status. psql
# comes from FLOTILLA_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else PATH.
set -uo pipefail

conninfo="${1:?conninfo}"
name="${2:?name}"
shift 2
[[ "${1:-}" == "--" ]] && shift
(($#)) || { echo "with_pg_database: no command given (after --)" >&2; exit 2; }

pg_bin="${FLOTILLA_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
psql="$pg_bin/psql"
[[ -x "$psql" ]] || psql="$(command -v psql)" || { echo "with_pg_database: psql not found" >&2; exit 1; }

# A database name is an identifier: lowercase letters, digits and underscores only.
db="flotilla_$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '_' | tr 'A-Z' 'a-z')_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
admin() { "$psql" -X -q -v ON_ERROR_STOP=1 -d "$conninfo dbname=postgres" -c "$1"; }

admin "CREATE DATABASE $db" || { echo "with_pg_database: could not create $db on $conninfo" >&2; exit 1; }
trap 'admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" || echo "with_pg_database: could not drop $db" >&2' EXIT
echo "with_pg_database: $db on $conninfo" >&2
FLOTILLA_DATABASE_URL="$conninfo dbname=$db" "$@"
