"""Shared fixtures for the V2 serving suite.

The suite registers models with the unmodified `mlflow` client and queries them
with the real `tritonclient.http` client and plain HTTP, against the flotilla
server named by FLOTILLA_URL. Fixture models and reference outputs come from
make_fixtures.sh (FLOTILLA_FIXTURES). Every test registers under its own unique
names, so tests are independent and can share one long-lived server.
"""

import os

# A 5xx must fail the test at once, not after the client's minutes of retries.
# Set before mlflow is imported anywhere.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")

import pytest  # noqa: E402

URL = os.environ.get("FLOTILLA_URL", "").rstrip("/")
if not URL.startswith("http"):
    pytest.exit("FLOTILLA_URL must point at a running flotilla server (http://host:port)", 2)
os.environ["MLFLOW_TRACKING_URI"] = URL

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from serving_util import FIXTURES, Registrar, load_cases  # noqa: E402


def pytest_report_header(config):
    return f"mlflow {mlflow.__version__} -> {URL}; fixtures {FIXTURES}"


@pytest.fixture(scope="session")
def url():
    return URL


@pytest.fixture(scope="session")
def client():
    return MlflowClient(tracking_uri=URL)


@pytest.fixture(scope="session")
def registrar(client):
    """Registers fixture models on first use, each once per session, under unique names."""
    return Registrar(client)


@pytest.fixture(scope="session")
def cases():
    return load_cases()


@pytest.fixture(scope="session")
def triton():
    import tritonclient.http as httpclient

    c = httpclient.InferenceServerClient(url=URL.split("://", 1)[1], network_timeout=120.0)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _no_active_run():
    """Fluent-API tests must not leak an active run into the next test."""
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
