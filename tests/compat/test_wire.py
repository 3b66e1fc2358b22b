"""Raw-HTTP checks of inputs a compatible server must reject (MLFLOW-API.md §5.4) and of
limits the client cannot reach (it validates or chunks first). No mlflow client here:
paths are sent byte-for-byte with http.client, since `requests` normalizes `..` away."""

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest
from mlflow import MlflowClient

from compat_util import STRICT, unique

A = "/api/2.0/mlflow-artifacts/artifacts"


def call(method, path, body=None, headers=None):
    """(status, body bytes) for one raw request to the server under test."""
    target = urlsplit(os.environ["MLFLOW_TRACKING_URI"])
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post_json(path, payload):
    return call("POST", path, json.dumps(payload), {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def run_id():
    client = MlflowClient()
    return client.create_run(client.create_experiment(unique("wire"))).info.run_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{A}/../../../../etc/passwd"),
        ("GET", f"{A}/1/../../../etc/passwd"),
        ("GET", f"{A}/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        ("GET", f"{A}/1/..%2f..%2f..%2fetc%2fpasswd"),
        ("GET", f"{A}/1/%252e%252e%252f%252e%252e%252fetc%252fpasswd"),  # double-encoded
        ("GET", f"{A}//etc/passwd"),
        ("GET", f"{A}/%2Fetc%2Fpasswd"),
        ("GET", f"{A}/file:///etc/passwd"),
        ("GET", f"{A}/1/a%23b"),
        ("GET", f"{A}?path=/etc"),
        ("GET", f"{A}?path=../../etc"),
        ("GET", f"{A}?path=1/../../etc"),
        ("GET", f"{A}?path=file:///etc"),
        ("PUT", f"{A}/1/..%2f..%2f..%2f..%2ftmp%2fcompat-escape.txt"),
        ("PUT", f"{A}/../../../../tmp/compat-escape.txt"),
        ("DELETE", f"{A}/1/..%2f..%2f..%2fetc%2fpasswd"),
    ],
)
def test_artifact_path_escapes_are_rejected(method, path):
    status, body = call(method, path, body=b"pwned" if method == "PUT" else None)
    assert status == 400, body
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("path", [f"{A}/1/..%5c..%5c..%5cetc%5cpasswd", f"{A}/1/abc%00.txt"])
def test_backslash_and_nul_in_artifact_paths(path):
    status, body = call("GET", path)
    # STRICT: flotilla rejects `\` and NUL outright. MLflow 3.17.2 treats them as literal
    # file names and answers 404, which is also safe.
    allowed = (400,) if STRICT else (400, 404)
    assert status in allowed, body
    assert b"root:" not in body


def test_legacy_list_endpoint_rejects_escape(run_id):
    status, body = call("GET", f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=../../etc")
    assert status == 400, body


def test_json_endpoints_reject_non_json_content_type():
    """CSRF defense: a browser form post must not create anything."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        payload = json.dumps({"name": unique("csrf")})
        status, body = call("POST", "/api/2.0/mlflow/experiments/create", payload, {"Content-Type": content_type})
        assert status == 400, (content_type, body)
        assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("field", "count"),
    [("metrics", 1001), ("params", 101), ("tags", 101)],
)
def test_log_batch_limits(run_id, field, count):
    if field == "metrics":
        items = [{"key": f"k{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(count)]
    else:
        items = [{"key": f"k{i}", "value": "v"} for i in range(count)]

    status, body = post_json("/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, field: items})

    assert status == 400, body
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_health_and_server_info():
    assert call("GET", "/health") == (200, b"OK")
    status, body = call("GET", "/api/3.0/mlflow/server-info")
    assert status == 200
    # flotilla takes MLflow's proxied multipart uploads on every store; MLflow
    # only on an artifact store that can (not its default local one).
    enabled = json.loads(body)["multipart_uploads_enabled"]
    assert enabled is True if STRICT else isinstance(enabled, bool)
