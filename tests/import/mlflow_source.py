"""A real MLflow tracking server on a SQLite backend store, the source of an import.

`start(server_venv, workdir)` runs `mlflow server --backend-store-uri sqlite:///W/mlflow.db
--artifacts-destination W/artifacts --serve-artifacts` on a free loopback port (one worker)
and returns the running `flotilla_server.Server` with `db` and `artifacts` attributes; stop it
with `.stop()` or a `with` block. Standard library only: it runs in any venv.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import flotilla_server  # noqa: E402


def start(server_venv, workdir, timeout=120):
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db, artifacts = workdir / "mlflow.db", workdir / "artifacts"
    port = flotilla_server.free_port()
    args = [
        Path(server_venv) / "bin" / "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{db}",
        "--artifacts-destination", artifacts, "--serve-artifacts",
        "--host", "127.0.0.1", "--port", port, "--workers", "1",
    ]
    server = flotilla_server.Server("mlflow", args, workdir / "mlflow-server.log", port=port)
    try:
        server.wait_ready("/health", timeout)
    except BaseException:
        server.stop()
        raise
    server.db, server.artifacts = db, artifacts
    return server
