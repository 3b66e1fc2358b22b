#!/usr/bin/env bash
# Runs the MLflow client compatibility suite with each client venv (client3, then client2).
#
# For each client a fresh flotilla server (fresh data dir, port 0) is started and stopped
# again by tests/support/flotilla_server.py; nothing is built here. Environment:
#   FLOTILLA_BIN       server binary (default: target/debug/flotilla under the repo root)
#   COMPAT_TARGET_URI  run against this already-running server instead (e.g. real MLflow)
#   COMPAT_STRICT      1: assert flotilla's stricter behaviour (default 1 for a started
#                      flotilla, 0 with COMPAT_TARGET_URI)
#   COMPAT_CLIENTS     venvs to use (default: "client3 client2")
#   COMPAT_AUTH        0: skip the auth pass (below)
#   COMPAT_TLS         0: skip the TLS pass (below)
#   COMPAT_S3          0: skip the S3 pass (below)
#   COMPAT_PG          0: skip the PostgreSQL pass (below); 1 by default when
#                      FLOTILLA_TEST_POSTGRES is set (scripts/test.sh exports it), else 0
#   FLOTILLA_TEST_POSTGRES  the PostgreSQL server for that pass (a superuser conninfo without
#                      dbname); with COMPAT_PG=1 and none set, the pass starts one of its own
# Extra arguments go to the main suite's pytest, e.g. `run.sh -k registry`.
#
# Then an auth pass per client (not with COMPAT_TARGET_URI): a fresh flotilla with
# `--auth basic` and a random FLOTILLA_ADMIN_PASSWORD, driven by auth_check.py (Basic and
# Bearer credentials, 401s, read tokens, MLflow's basic-auth client managing users).
# Then a TLS pass per client: tls_check.py starts flotilla with a self-signed certificate
# (openssl) and `--auth basic`, and drives the client over HTTPS with
# MLFLOW_TRACKING_SERVER_CERT_PATH.
# Then an S3 pass with the 3.x client: moto's S3 server (tests/s3/with_moto.py, from .venvs/s3
# made by tests/s3/setup.sh) and flotilla with `--artifacts s3://compat/artifacts`, running the
# artifact and multipart-upload tests (not the 200 MB round trip).
# Then a PostgreSQL pass per client (not with COMPAT_TARGET_URI): the main suite against a fresh
# flotilla on a fresh database of that server (tests/support/with_pg_database.sh sets
# FLOTILLA_DATABASE_URL, what `--database` reads; dropped afterwards), monitoring on as by default. The auth, TLS and S3 passes stay on SQLite.
# JUnit XML and server logs land in target/test-output/compat-<client>.{xml,server.log}
# ($CARGO_TARGET_DIR/test-output when set).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FLOTILLA_BIN:-$root/target/debug/flotilla}"
clients="${COMPAT_CLIENTS:-client3 client2}"
out="${CARGO_TARGET_DIR:-$root/target}/test-output"

"$here/setup.sh" || { echo "compat: setup failed" >&2; exit 1; }
mkdir -p "$out"

# Starts flotilla (port 0, fresh temp data dir), runs the command with MLFLOW_TRACKING_URI set,
# stops flotilla; see tests/support/flotilla_server.py.
with_flotilla() {
  python3 "$root/tests/support/flotilla_server.py" --name compat --bin "$bin" --log "$1" \
    --url-env MLFLOW_TRACKING_URI -- "${@:2}"
}

failed=()
for client in $clients; do
  echo "=== compat: $client ==="
  log="$out/compat-$client.server.log"
  pytest=("$root/.venvs/$client/bin/python" -m pytest "$here" -c "$here/pytest.ini" --rootdir "$here"
    --junitxml="$out/compat-$client.xml" -o junit_suite_name="compat-$client" "$@")
  if [[ -n "${COMPAT_TARGET_URI:-}" ]]; then
    COMPAT_STRICT="${COMPAT_STRICT:-0}" MLFLOW_TRACKING_URI="$COMPAT_TARGET_URI" "${pytest[@]}"
  else
    # flotilla itself: also check where it is stricter than MLflow
    COMPAT_STRICT=1 with_flotilla "$log" "${pytest[@]}"
  fi
  status=$?
  [[ $status -eq 0 ]] || failed+=("$client")
done

if [[ -z "${COMPAT_TARGET_URI:-}" && "${COMPAT_AUTH:-1}" == "1" ]]; then
  for client in $clients; do
    echo "=== compat (--auth basic): $client ==="
    password="compat-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    FLOTILLA_ADMIN_PASSWORD="$password" ADMIN_PASSWORD="$password" COMPAT_STRICT=1 \
      python3 "$root/tests/support/flotilla_server.py" --name compat-auth --bin "$bin" \
      --log "$out/compat-auth-$client.server.log" --server-args "--auth basic" --url-env MLFLOW_TRACKING_URI -- \
      "$root/.venvs/$client/bin/python" -m pytest "$here/auth_check.py" -c "$here/pytest.ini" --rootdir "$here" \
      --junitxml="$out/compat-auth-$client.xml" -o junit_suite_name="compat-auth-$client"
    [[ $? -eq 0 ]] || failed+=("$client (--auth basic)")
  done
fi

if [[ -z "${COMPAT_TARGET_URI:-}" && "${COMPAT_TLS:-1}" == "1" ]]; then
  for client in $clients; do
    echo "=== compat (--tls-cert): $client ==="
    "$root/.venvs/$client/bin/python" "$here/tls_check.py" "$bin" "$out/compat-tls-$client.server.log"
    [[ $? -eq 0 ]] || failed+=("$client (TLS)")
  done
fi

if [[ -z "${COMPAT_TARGET_URI:-}" && "${COMPAT_S3:-1}" == "1" ]]; then
  echo "=== compat (--artifacts s3://): client3 ==="
  if "$root/tests/s3/setup.sh"; then
    python3 "$root/tests/s3/with_moto.py" --bucket compat --log "$out/compat-s3-moto.log" -- \
      python3 "$root/tests/support/flotilla_server.py" --name compat-s3 --bin "$bin" \
      --log "$out/compat-s3-client3.server.log" --server-args "--artifacts s3://compat/artifacts" \
      --url-env MLFLOW_TRACKING_URI -- \
      "$root/.venvs/client3/bin/python" -m pytest "$here/test_multipart.py" "$here/test_artifacts.py" -k "not 200_mb" \
      -c "$here/pytest.ini" --rootdir "$here" --junitxml="$out/compat-s3-client3.xml" -o junit_suite_name="compat-s3-client3"
    [[ $? -eq 0 ]] || failed+=("client3 (S3)")
  else
    failed+=("S3 setup")
  fi
fi

pg_wanted="${COMPAT_PG:-$([[ -n "${FLOTILLA_TEST_POSTGRES:-}" ]] && echo 1 || echo 0)}"
if [[ -z "${COMPAT_TARGET_URI:-}" && "$pg_wanted" == "1" ]]; then
  pg_conninfo="${FLOTILLA_TEST_POSTGRES:-}"
  if [[ -z "$pg_conninfo" ]]; then
    pg_dir="$(mktemp -d /tmp/flotilla-compat-pg.XXXXXX)"
    trap '"$root/scripts/postgres-test-server.sh" stop "$pg_dir"' EXIT
    pg_conninfo="$("$root/scripts/postgres-test-server.sh" start "$pg_dir")" || pg_conninfo=""
  fi
  for client in $clients; do
    echo "=== compat (--database postgresql): $client ==="
    log="$out/compat-pg-$client.server.log"
    if [[ -z "$pg_conninfo" ]]; then
      failed+=("PostgreSQL server")
      break
    fi
    COMPAT_STRICT=1 "$root/tests/support/with_pg_database.sh" "$pg_conninfo" "compat_$client" -- \
      python3 "$root/tests/support/flotilla_server.py" --name compat-pg --bin "$bin" --log "$log" \
      --url-env MLFLOW_TRACKING_URI -- \
      "$root/.venvs/$client/bin/python" -m pytest "$here" -c "$here/pytest.ini" --rootdir "$here" \
      --junitxml="$out/compat-pg-$client.xml" -o junit_suite_name="compat-pg-$client" "$@"
    status=$?
    # The pass counts only if the server really ran on PostgreSQL.
    if ! grep -q "metadata store: PostgreSQL" "$log"; then
      echo "compat: the PostgreSQL pass's server did not run on PostgreSQL (see $log)" >&2
      status=1
    fi
    [[ $status -eq 0 ]] || failed+=("$client (PostgreSQL)")
  done
fi

if ((${#failed[@]})); then
  echo "compat: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "compat: all clients passed"
