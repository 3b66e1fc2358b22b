"""The real mlflow client over HTTPS (`--tls-cert`/`--tls-key`), run by run.sh's TLS pass.

Makes a self-signed certificate for localhost with openssl, starts flotilla with it and
`--auth basic`, and drives the unmodified client with MLFLOW_TRACKING_SERVER_CERT_PATH and
Basic credentials: tracking, registry and searches. A client that does not trust the
certificate is refused. Usage: python tls_check.py FLOTILLA_BIN LOG_PATH
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import flotilla_server  # noqa: E402

PASSWORD = "tls-admin-" + uuid.uuid4().hex[:12]


def certificate(dir_):
    cert, key = dir_ / "cert.pem", dir_ / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key


def listening_port(server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = flotilla_server.LISTENING.search(server.log_path.read_text(errors="replace"))
        if found:
            return int(found.group(2))
        if server.proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"flotilla did not start with TLS; log:\n{server.log_tail()}")


def check(url, cert):
    import mlflow
    import requests
    from mlflow import MlflowClient

    os.environ.update({
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert),
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": PASSWORD,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    })
    client = MlflowClient()
    name = f"tls-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name)
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("rmse", 1.25)
    found = client.search_runs([experiment_id], "metrics.rmse < 2")
    assert [r.info.run_id for r in found] == [run.info.run_id], found
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "champion", version.version)
    assert client.get_model_version_by_alias(name, "champion").version == version.version
    # Over TLS, credentials are still required; a client without the certificate refuses.
    assert requests.get(f"{url}/api/2.0/mlflow/experiments/search", verify=str(cert)).status_code == 401
    try:
        requests.get(f"{url}/health", timeout=5)
    except requests.exceptions.SSLError:
        pass
    else:
        raise AssertionError("a client without the certificate trusted the server")


def main():
    bin_path, log_path = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="flotilla-tls-") as tmp:
        tmp = Path(tmp)
        cert, key = certificate(tmp)
        env = dict(os.environ, FLOTILLA_ADMIN_PASSWORD=PASSWORD)
        server = flotilla_server.spawn_flotilla(
            bin_path, tmp / "data", "--auth", "basic", "--tls-cert", cert, "--tls-key", key,
            log_path=log_path, env=env)
        with server:
            port = listening_port(server)
            check(f"https://localhost:{port}", cert)
    print("tls: the mlflow client tracked, registered and searched over HTTPS")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
