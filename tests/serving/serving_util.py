"""Helpers shared by the serving tests (imported, not a test module)."""

import http.client
import json
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402

TEST_OUTPUT = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "test-output"
FIXTURES = Path(os.environ.get("FLOTILLA_FIXTURES") or TEST_OUTPUT / "fixtures")
INT_TYPES = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}


def unique(prefix):
    """A name no other test (or earlier run against the same server) uses."""
    return f"v2-{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Case:
    name: str
    dir: Path
    data: dict

    @property
    def model_dir(self):
        return self.dir / "model"

    @property
    def is_error(self):
        return "error" in self.data

    @property
    def input_name(self):
        return self.data["input"]

    @property
    def expected(self):
        return self.data.get("expected", {})

    @property
    def rtol(self):
        return float(self.data.get("rtol", 1e-5))

    def rows(self):
        """The case's rows as float32, JSON null read as NaN."""
        rows = [[np.nan if v is None else v for v in row] for row in self.data.get("rows", [])]
        return np.asarray(rows, dtype=np.float32)

    @property
    def has_nan(self):
        return bool(np.isnan(self.rows()).any()) if self.data.get("rows") else False

    def __repr__(self):
        return self.name


def load_cases():
    """Every fixture case under FIXTURES, sorted by name (empty if none were made)."""
    if not FIXTURES.is_dir():
        return []
    out = []
    for case_json in sorted(FIXTURES.glob("*/case.json")):
        if (case_json.parent / "model" / "MLmodel").is_file():
            out.append(Case(case_json.parent.name, case_json.parent, json.loads(case_json.read_text())))
    return out


CASES = load_cases()
OK_CASES = [c for c in CASES if not c.is_error]
ERROR_CASES = [c for c in CASES if c.is_error]


def case_named(name):
    for c in CASES:
        if c.name == name:
            return c
    return None


def first_case(*prefixes):
    """The first servable case whose name starts with one of the prefixes, in the given order."""
    for p in prefixes:
        for c in OK_CASES:
            if c.name.startswith(p):
                return c
    return None


class Registrar:
    """Registers model directories through the real mlflow client."""

    def __init__(self, client):
        self.client = client
        self._experiment = None
        self._done = {}
        self._lock = threading.Lock()

    def experiment(self):
        if self._experiment is None:
            self._experiment = self.client.create_experiment(unique("exp"))
        return self._experiment

    def log_run(self, model_dir, artifact_path="model"):
        """A finished run holding `model_dir` under `artifact_path`; returns its id."""
        run = self.client.create_run(self.experiment(), run_name="v2-serving")
        self.client.log_artifacts(run.info.run_id, str(model_dir), artifact_path)
        self.client.set_terminated(run.info.run_id)
        return run.info.run_id

    def register(self, model_dir, name=None, via="register_model"):
        """Logs the directory as a run's artifacts and registers it; returns (name, version)."""
        import mlflow

        name = name or unique("model")
        run_id = self.log_run(model_dir)
        if via == "register_model":
            mv = mlflow.register_model(f"runs:/{run_id}/model", name)
        elif via == "artifact_uri":  # what register_model does, through this client's server
            self._ensure_model(name)
            source = f"{self.client.get_run(run_id).info.artifact_uri}/model"
            mv = self.client.create_model_version(name, source, run_id=run_id)
        else:  # a version whose source is the runs:/ URI itself
            self._ensure_model(name)
            mv = self.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        return name, int(mv.version)

    def _ensure_model(self, name):
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def model_for(self, case):
        """The registered name serving `case` (registered on first use, once per session)."""
        with self._lock:
            if case.name not in self._done:
                self._done[case.name] = self.register(case.model_dir, unique(case.name))[0]
            return self._done[case.name]


# ---- plain HTTP, with full control of the headers ----------------------------------------


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(url, method, path, body=None, headers=None):
    """One HTTP request; sends exactly the given headers (no Content-Type unless given)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def post_json(url, path, body, headers=None):
    return request(url, "POST", path, body, {"Content-Type": "application/json", **(headers or {})})


def infer_body(case_or_name, rows, datatype="FP32", flat=True, **extra):
    name = case_or_name.input_name if isinstance(case_or_name, Case) else case_or_name
    rows = np.asarray(rows)
    data = rows.reshape(-1).tolist() if flat else rows.tolist()
    body = {"inputs": [{"name": name, "shape": list(rows.shape), "datatype": datatype, "data": data}]}
    body.update(extra)
    return body


def assert_error(resp, status, *fragments):
    """`resp` is an error with this status and a `{"error": str}` JSON body naming the fragments."""
    assert resp.status == status, f"want {status}, got {resp!r}"
    ctype = resp.header("content-type") or ""
    assert ctype.startswith("application/json"), f"error content-type {ctype!r}: {resp!r}"
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    for f in fragments:
        assert f.lower() in body["error"].lower(), f"{f!r} not in {body['error']!r}"
    return body["error"]


def assert_output(name, got, datatype, expected, rtol):
    """Compares one output with the reference: exact for integer types and BYTES (class labels
    that are strings), else within rtol."""
    if datatype == "BYTES":
        text = [g.decode() if isinstance(g, bytes) else str(g) for g in np.asarray(got).reshape(-1)]
        assert text == [str(e) for e in np.asarray(expected).reshape(-1)], f"{name}: {text} != {expected}"
        return
    exp = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got)
    assert got.size == exp.size, f"{name}: {got.size} elements, want {exp.size} (shape {exp.shape})"
    got = got.reshape(-1)
    exp = exp.reshape(-1)
    if datatype in INT_TYPES:
        assert np.array_equal(got.astype(np.int64), exp.astype(np.int64)), f"{name}: {got.tolist()} != {exp.tolist()}"
        return
    got = got.astype(np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(exp)))) if exp.size and not np.isnan(exp).all() else 1.0
    ok = np.isclose(got, exp, rtol=rtol, atol=rtol * scale, equal_nan=True)
    if not ok.all():
        bad = np.flatnonzero(~ok)[:5]
        detail = ", ".join(f"[{i}] {got[i]!r} vs {exp[i]!r}" for i in bad)
        raise AssertionError(f"{name}: {len(np.flatnonzero(~ok))}/{exp.size} differ beyond rtol {rtol}: {detail}")


# ---- starting a flotilla server of our own --------------------------------------------------


def FlotillaServer(data_dir, *extra_args, mode="server"):  # noqa: N802 (reads as the class it returns)
    """A started flotilla (`flotilla_server.Server`: `.url`, `.stop()`, `.log_tail()`) over `data_dir`."""
    return flotilla_server.start_flotilla(flotilla_server.default_bin(), data_dir, *extra_args, mode=mode)
