"""MLflow's proxied multipart upload (`/mlflow-artifacts/mpu/{create,complete,abort}`).

The real client takes this path when MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD is true and the
file is at least MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: it asks the server for part URLs,
PUTs each 5 MiB chunk there, and completes. Run on the local store and, in run.sh's S3 pass,
on moto's S3.
"""

import hashlib
import os

import pytest
import requests
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

from compat_util import STRICT

CHUNK = 5 * 1024 * 1024  # S3's smallest part


@pytest.fixture(scope="module", autouse=True)
def multipart_supported():
    """flotilla always takes multipart uploads; MLflow only on a store that can (not a local one)."""
    uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    info = requests.get(f"{uri}/api/3.0/mlflow/server-info", timeout=10)
    enabled = info.status_code == 200 and info.json().get("multipart_uploads_enabled") is True
    if STRICT:
        assert enabled, f"server-info must announce multipart uploads: {info.text}"
    elif not enabled:
        pytest.skip("the server's artifact store takes no multipart uploads")


@pytest.fixture
def multipart_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(CHUNK))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(CHUNK))
    parts = []
    upload_part = HttpArtifactRepository._upload_part

    def counting(**kwargs):
        parts.append(kwargs["credential"].part_number)
        return upload_part(**kwargs)

    monkeypatch.setattr(HttpArtifactRepository, "_upload_part", staticmethod(counting))
    return parts


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_large_artifact_goes_up_in_parts(client, run, tmp_path, multipart_env):
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(2 * CHUNK + 12345))
    client.log_artifact(run.info.run_id, str(src), "model")
    assert sorted(multipart_env) == [1, 2, 3], "three parts went to the part URLs"

    files = client.list_artifacts(run.info.run_id, "model")
    assert [(f.path, f.file_size) for f in files] == [("model/weights.bin", src.stat().st_size)]
    out = tmp_path / "out"
    out.mkdir()
    got = client.download_artifacts(run.info.run_id, "model/weights.bin", str(out))
    assert sha256(got) == sha256(src)


def test_a_small_artifact_still_goes_in_one_put(client, run, tmp_path, multipart_env):
    src = tmp_path / "small.txt"
    src.write_bytes(b"small")
    client.log_artifact(run.info.run_id, str(src))
    assert multipart_env == []
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["small.txt"]


def mpu(run, action, body, sub=""):
    uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    root = run.info.artifact_uri.split("mlflow-artifacts:/", 1)[1].strip("/")
    return requests.post(f"{uri}/api/2.0/mlflow-artifacts/mpu/{action}/{root}{sub}", json=body, timeout=30)


def test_bad_requests_are_refused_in_mlflow_shape(run):
    table = [
        ("create", {"path": "/tmp/..", "num_parts": 1}, 400, "INVALID_PARAMETER_VALUE"),
        ("create", {"num_parts": 1}, 400, "INVALID_PARAMETER_VALUE"),
        ("create", {"path": "/tmp/x.bin", "num_parts": 10001}, 400, "INVALID_PARAMETER_VALUE"),
        ("create", {"path": "/tmp/x.bin", "num_parts": 0}, 400, "INVALID_PARAMETER_VALUE"),
        ("complete", {"path": "x.bin", "upload_id": "0" * 32, "parts": [{"part_number": 1, "etag": "e"}]}, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("complete", {"path": "x.bin", "upload_id": "../../x", "parts": [{"part_number": 1, "etag": "e"}]}, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("complete", {"path": "x.bin", "upload_id": "0" * 32, "parts": []}, 400, "INVALID_PARAMETER_VALUE"),
        ("abort", {"path": "x.bin", "upload_id": "f" * 32}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ]
    for action, body, status, code in table:
        answer = mpu(run, action, body)
        assert answer.status_code == status, (action, body, answer.text)
        assert answer.json()["error_code"] == code, (action, body, answer.text)


def test_an_aborted_upload_takes_no_more_parts(run):
    created = mpu(run, "create", {"path": "/tmp/data/aborted.bin", "num_parts": 2}, "/sub")
    assert created.status_code == 200, created.text
    body = created.json()
    assert [c["part_number"] for c in body["credentials"]] == [1, 2]
    url = body["credentials"][0]["url"]
    first = requests.put(url, data=b"part one", timeout=30)
    assert first.status_code == 200 and first.headers.get("ETag"), first.text
    # The upload id is bound to the file it was created for.
    elsewhere = mpu(run, "abort", {"path": "other.bin", "upload_id": body["upload_id"]}, "/sub")
    assert elsewhere.status_code == 404, elsewhere.text
    aborted = mpu(run, "abort", {"path": "aborted.bin", "upload_id": body["upload_id"]}, "/sub")
    assert aborted.status_code == 200, aborted.text
    again = requests.put(body["credentials"][1]["url"], data=b"part two", timeout=30)
    assert again.status_code == 404 and again.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", again.text
