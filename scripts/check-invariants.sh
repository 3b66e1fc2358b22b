#!/usr/bin/env bash
# Architecture invariants from ARCHITECTURE.md, checked on the dependency graph:
# a crate must not (directly or transitively) depend on what it must not know.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail=0
forbid() {
  local crate="$1"; shift
  local deps
  deps="$(cargo tree --locked -p "$crate" -e normal --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)"
  for banned in "$@"; do
    if grep -qx "$banned" <<<"$deps"; then
      echo "invariant broken: $crate depends on $banned" >&2
      fail=1
    fi
  done
}
# direct dependencies only: flotilla-http reaches rusqlite through the store, but must not use it
forbid_direct() {
  local crate="$1"; shift
  local deps
  deps="$(cargo tree --locked -p "$crate" -e normal --depth 1 --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)"
  for banned in "$@"; do
    if grep -qx "$banned" <<<"$deps"; then
      echo "invariant broken: $crate uses $banned directly" >&2
      fail=1
    fi
  done
}

forbid flotilla-core tokio axum hyper rusqlite tokio-postgres
forbid flotilla-store axum hyper
# the store is synchronous: its code never touches tokio (the `postgres` client runs
# tokio-postgres on a small runtime of its own, inside each connection)
forbid_direct flotilla-store tokio
# the store keeps plain types: wire contracts (serde attributes) live in the adapters and flotilla-app
forbid_direct flotilla-store serde
forbid flotilla-artifacts axum hyper rusqlite
# the S3 store speaks HTTP as a client only (object_store); it serves nothing and stores no metadata
forbid flotilla-artifacts-s3 axum rusqlite flotilla-store
for crate in flotilla-app flotilla-http flotilla-web flotilla-serving; do
  forbid "$crate" flotilla-artifacts-s3 object_store
done
forbid flotilla-infer axum hyper rusqlite tokio-postgres tokio
# the data libraries compute; they neither store nor serve
forbid flotilla-profile axum hyper tokio rusqlite flotilla-store
forbid flotilla-drift axum hyper tokio rusqlite flotilla-store
forbid flotilla-serving axum hyper
# gRPC is a protocol adapter like HTTP's: only flotilla-http (and the binary that wires it) has tonic
for crate in flotilla-core flotilla-store flotilla-app flotilla-serving flotilla-infer flotilla-web; do
  forbid "$crate" tonic
done
forbid flotilla-app axum hyper maud
forbid_direct flotilla-app rusqlite tokio-postgres
forbid_direct flotilla-http rusqlite tokio-postgres
# the web UI stands beside the REST adapter, on the application layer
forbid flotilla-web flotilla-http
forbid_direct flotilla-web rusqlite tokio-postgres
# serving reaches the store's backends through its traits, never by itself
forbid_direct flotilla-serving rusqlite tokio-postgres
# the generator is a tool (it may use rusqlite, see ARCHITECTURE.md): no server in it, none of the server's crates on it
forbid flotilla-fleetgen axum hyper
# the importer reads MLflow's schema and writes through the store: no HTTP, no async runtime of its own
forbid flotilla-import axum hyper
forbid_direct flotilla-import tokio
forbid_direct flotilla-fleetgen tokio
for crate in flotilla-app flotilla-http flotilla-web flotilla-serving; do
  forbid "$crate" flotilla-fleetgen
done
# filters are parsed once, in flotilla-app (search.rs); the store takes typed clauses
if grep -rnE 'parse_filter|parse_order_by|check_order_by_count' crates/flotilla-store/src >&2; then
  echo "invariant broken: flotilla-store parses a filter (parse in flotilla-app, pass typed clauses)" >&2
  fail=1
fi
# credentials are read in one place (flotilla-http/src/auth.rs); every other module takes the
# caller the application layer established
if grep -rnE 'AUTHORIZATION|"authorization"' crates/flotilla-http/src crates/flotilla-web/src \
  | grep -v '^crates/flotilla-http/src/auth.rs:' >&2; then
  echo "invariant broken: a handler reads the Authorization header (take the Caller from flotilla-http's auth)" >&2
  fail=1
fi
# the test kit starts servers for tests and benches: a dev-dependency, never under a production crate
for dir in crates/*/; do
  crate="$(basename "$dir")"
  case "$crate" in
    flotilla-testkit | flotilla-bench) ;;
    *) forbid "$crate" flotilla-testkit ;;
  esac
done
[[ $fail -eq 0 ]] && echo "invariants hold"
exit $fail
