"""Shared fixtures for the MLflow client compatibility suite.

The suite drives the unmodified `mlflow` client against the server named by
MLFLOW_TRACKING_URI (flotilla, or real MLflow to check the tests themselves).
Every test makes its own uniquely named objects, so tests are independent and
can share one long-lived server.
"""

import os

# A 5xx must fail the test at once, not after the client's ~4 minutes of retries.
# Set before mlflow is imported anywhere.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")

import pytest  # noqa: E402

if not os.environ.get("MLFLOW_TRACKING_URI", "").startswith("http"):
    pytest.exit("MLFLOW_TRACKING_URI must point at a running server (http://host:port)", 2)

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from compat_util import STRICT, unique  # noqa: E402


def pytest_report_header(config):
    strict = " (strict)" if STRICT else ""
    return f"mlflow client {mlflow.__version__} -> {os.environ['MLFLOW_TRACKING_URI']}{strict}"


@pytest.fixture(scope="session")
def client():
    return MlflowClient()


@pytest.fixture
def experiment_id(client):
    """A fresh, empty experiment for one test."""
    return client.create_experiment(unique("exp"))


@pytest.fixture
def run(client, experiment_id):
    """A fresh RUNNING run in a fresh experiment."""
    return client.create_run(experiment_id, run_name="compat-run")


@pytest.fixture(autouse=True)
def _no_active_run():
    """Fluent-API tests must not leak an active run into the next test."""
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
