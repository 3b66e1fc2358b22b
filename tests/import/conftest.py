"""The import test's sessions: one real MLflow server filled by fill_mlflow.py, and flotilla
data directories imported from it (from its SQLite file and over REST).

Environment (run.sh sets it):
  IMPORT_SERVER_VENV  the venv holding the MLflow server (3.17.2 or 2.22.5)
  FLOTILLA_BIN        the flotilla binary (default: target/debug/flotilla)
  IMPORT_OUT          where logs and reports go (default: a temporary directory)
  IMPORT_SELF_CHECK   1: no import, the "destination" is the source server itself, so that
                      the comparison code is tested alone (the import-only checks skip)
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlflow
from mlflow import MlflowClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "support"))
import fill_mlflow  # noqa: E402
import flotilla_server  # noqa: E402
import mlflow_source  # noqa: E402

SELF_CHECK = os.environ.get("IMPORT_SELF_CHECK") == "1"
IMPORT_TIMEOUT = 600


@dataclass
class Source:
    url: str
    db: Path
    artifacts: Path
    manifest: dict

    def uri(self):
        return f"sqlite:///{self.db}"


@dataclass
class Imported:
    """The outcome of one `flotilla import mlflow` run."""

    args: list
    returncode: int
    output: str
    report: dict | None

    def ok(self):
        assert self.returncode == 0, f"import {' '.join(self.args)} exited {self.returncode}:\n{self.output[:3000]}"
        return self


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory):
    out = Path(os.environ.get("IMPORT_OUT") or tmp_path_factory.mktemp("out"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def flotilla_bin():
    path = flotilla_server.default_bin()
    if not SELF_CHECK and not os.access(path, os.X_OK):
        pytest.fail(f"no flotilla binary at {path} (set FLOTILLA_BIN)")
    return path


@pytest.fixture(scope="session")
def source(tmp_path_factory, out_dir):
    venv = os.environ.get("IMPORT_SERVER_VENV")
    if not venv:
        pytest.fail("IMPORT_SERVER_VENV is not set (run tests/import/run.sh)")
    work = tmp_path_factory.mktemp("mlflow-source")
    server = mlflow_source.start(venv, work)
    try:
        mlflow.set_tracking_uri(server.url)
        mlflow.set_registry_uri(server.url)
        manifest = fill_mlflow.fill(MlflowClient(server.url))
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        yield Source(server.url, server.db, server.artifacts, manifest)
    finally:
        server.stop()
        shutil.copy(server.log_path, out_dir / "mlflow-source.log")


@pytest.fixture(scope="session")
def run_import(flotilla_bin, out_dir, tmp_path_factory):
    """`run_import(*flags)`: runs `flotilla import mlflow *flags --report-json FILE`, logs the
    output to IMPORT_OUT, returns an `Imported`."""
    count = iter(range(1000))

    def run(*flags):
        n = next(count)
        report = tmp_path_factory.mktemp("report") / "report.json"
        args = [flotilla_bin, "import", "mlflow", *map(str, flags), "--report-json", str(report)]
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=IMPORT_TIMEOUT)
        (out_dir / f"import-{n}.log").write_text(" ".join(args) + "\n\n" + proc.stdout)
        parsed = json.loads(report.read_text()) if report.exists() and report.stat().st_size else None
        return Imported(args, proc.returncode, proc.stdout, parsed)

    return run


@pytest.fixture(scope="session")
def serve(flotilla_bin, out_dir):
    """`with serve(data_dir) as server:` flotilla on an imported data directory."""

    def start(data_dir, *flags):
        log = out_dir / f"flotilla-{Path(data_dir).name}.log"
        return flotilla_server.start_flotilla(flotilla_bin, data_dir, *flags, log_path=log)

    return start


# The REST source (`--from http://...`) is not built yet (issue 19, point 1): every check of the
# import over REST is an expected failure, strict, so the day that import works these checks
# pass and the mark must go.
REST_NOT_BUILT = pytest.mark.xfail(
    strict=True, reason="flotilla import mlflow --from http(s)://... is not built yet (the importer refuses it)"
)


@pytest.fixture(scope="session", params=["database", pytest.param("rest", marks=REST_NOT_BUILT)])
def dest(request, source, run_import, serve, tmp_path_factory):
    """The URL of flotilla serving what was imported from the source's database (with its
    artifact root), or over REST; with IMPORT_SELF_CHECK=1 the source itself."""
    if SELF_CHECK:
        yield source.url
        return
    data_dir = tmp_path_factory.mktemp(f"dest-{request.param}") / "data"
    if request.param == "database":
        run_import("--from", source.uri(), "--artifacts-from", source.artifacts, "--data-dir", data_dir).ok()
    else:
        run_import("--from", source.url, "--data-dir", data_dir).ok()
    with serve(data_dir) as server:
        yield server.url


@pytest.fixture
def source_copy(source, tmp_path):
    """A consistent copy of the source database (SQLite's backup API; the server keeps running)."""
    copy = tmp_path / "mlflow-copy.db"
    with sqlite3.connect(source.db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return copy
