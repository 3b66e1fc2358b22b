#!/usr/bin/env bash
# The whole test suite, from a fresh clone: architecture invariants, lints,
# Rust unit and integration tests (real SQLite files, real directories), and
# the compatibility suite that drives the real `mlflow` clients (3.17.2 and
# 2.22.x, installed into venvs under .venvs/ by tests/compat/setup.sh), the import test (real
# MLflow 3.17.2 and 2.22.5 servers filled by those clients, imported and compared, tests/import), and the
# serving suite: models trained by the reference libraries in .venvs/serving,
# compared with flotilla's native engines, then served to the real tritonclient;
# and the browser tests of the web UI (Debian's Chromium, playwright-core from npm); and the
# profile sketches read by the Python datasketches package (tests/profile, the serving venv); and
# the drift statistics against SciPy and Evidently (tests/drift, its own venv .venvs/drift); and
# fleet reports' CSV and Parquet exports read by pandas and pyarrow (tests/reports, the drift venv);
# the S3 artifact store against moto's S3 server (.venvs/s3 from tests/s3/setup.sh, made before
# the Rust tests, which start it; the compat suite's S3 pass too); the PostgreSQL backend's suite
# on a PostgreSQL 15 server of its own (scripts/postgres-test-server.sh), with the replica tests
# (servers on that PostgreSQL behind nginx, tests/deploy/install-nginx.sh), and the compat suite
# (both clients) and the serving suite once more against flotilla on that PostgreSQL (their
# PostgreSQL passes, on because FLOTILLA_TEST_POSTGRES stays exported); and the deployment files
# validated offline (tests/deploy: hadolint, kubernetes-validate, the compose schema, nginx -t,
# cross-checks against the flags flotilla reads); and the differential suite, the same raw REST
# calls sent to a live MLflow 3.17.2 server (.venvs/mlflow-server) and to flotilla, compared field
# by field (tests/differential, after the compat suite and skipped with it).
#
#   scripts/test.sh                 everything
#   SKIP_COMPAT=1 scripts/test.sh   no mlflow-client compatibility or differential suite
#   SKIP_IMPORT=1 scripts/test.sh   no import test (real MLflow 3.17.2 and 2.22.5 servers, tests/import)
#   SKIP_SERVING=1 scripts/test.sh  no fixtures, reference comparisons, serving, profile or drift suite
#   SKIP_UI=1 scripts/test.sh       no browser tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n=== %s ===\n' "$*"; }

step "architecture invariants"
scripts/check-invariants.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust tests"
# One PostgreSQL server for every test process of the PostgreSQL backend's suite
# (each test makes its own database); installed from Debian's packages if missing.
pg_test_dir="$(mktemp -d /tmp/flotilla-test-pg.XXXXXX)"
trap 'scripts/postgres-test-server.sh stop "$pg_test_dir"' EXIT
FLOTILLA_TEST_POSTGRES="$(scripts/postgres-test-server.sh start "$pg_test_dir")"
export FLOTILLA_TEST_POSTGRES
# moto's S3 server for the S3 artifact store's tests (flotilla-testkit's TempS3); under CI a
# missing moto fails those tests rather than skipping them.
tests/s3/setup.sh
# nginx for the replica tests (crates/flotilla/tests/replicas: they start it themselves; under CI a
# missing nginx fails them).
tests/deploy/install-nginx.sh >/dev/null
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# Where cargo puts the binary (CARGO_TARGET_DIR moves it); the suites write their reports,
# logs, screenshots and fixtures under its test-output/.
target_dir="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")"
flotilla_bin="$target_dir/debug/flotilla"
if [[ "${SKIP_SERVING:-0}" != "1" || "${SKIP_COMPAT:-0}" != "1" || "${SKIP_UI:-0}" != "1" ]]; then
  cargo build --locked -p flotilla
fi

if [[ "${SKIP_UI:-0}" != "1" ]]; then
  step "web UI in a real browser"
  FLOTILLA_BIN="$flotilla_bin" tests/ui/run.sh
fi

if [[ "${SKIP_SERVING:-0}" != "1" ]]; then
  step "serving: reference models and outputs"
  fixtures="$target_dir/test-output/fixtures"
  rm -rf "$fixtures"
  tests/serving/make_fixtures.sh "$fixtures"
  step "serving: native engines against the reference libraries"
  FLOTILLA_FIXTURES="$fixtures" cargo nextest run --workspace --locked --no-fail-fast --run-ignored only
  step "serving: V2 protocol with tritonclient and plain HTTP"
  FLOTILLA_BIN="$flotilla_bin" FLOTILLA_FIXTURES="$fixtures" tests/serving/run.sh
fi

if [[ "${SKIP_SERVING:-0}" != "1" ]]; then
  step "profiles: sketch bytes read by the Python datasketches package"
  tests/profile/run.sh
  step "drift: statistics and verdicts against SciPy and Evidently"
  tests/drift/run.sh
  step "reports: CSV and Parquet exports read by pandas and pyarrow, totals against the API"
  FLOTILLA_BIN="$flotilla_bin" tests/reports/run.sh
fi

if [[ "${SKIP_COMPAT:-0}" != "1" ]]; then
  step "mlflow client compatibility"
  FLOTILLA_BIN="$flotilla_bin" tests/compat/run.sh
  step "differential: flotilla against a live MLflow 3.17.2"
  FLOTILLA_BIN="$flotilla_bin" tests/differential/run.sh
fi

if [[ "${SKIP_IMPORT:-0}" != "1" ]]; then
  step "import: from real MLflow 3.17.2 and 2.x servers"
  FLOTILLA_BIN="$flotilla_bin" tests/import/run.sh
fi

step "deployment files: Dockerfile, Kubernetes manifests, compose and nginx, validated offline"
tests/deploy/validate.sh "$flotilla_bin"

step "all tests passed"
