"""A fleet report's CSV and Parquet tables, read with pandas and pyarrow, against the API.

Starts flotilla with --auth basic, makes two families through the fleet API, runs
`flotilla report --server` for the fleet and for one family, and checks that the exported
tables' totals equal the fleet API's facets and listings for the same scope, that CSV and
Parquet hold the same rows, and that bad input fails with a clear message and no file.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402

ADMIN_PASSWORD = "admin-password-1"
AUTH = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
OUT = Path(os.environ.get("FLOTILLA_REPORTS_DIR") or ROOT / "target" / "test-output" / "reports")
STORES = {"demand": 5, "fraud": 3}


def call(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", AUTH)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    env = dict(os.environ, FLOTILLA_AUTH="basic", FLOTILLA_ADMIN_PASSWORD=ADMIN_PASSWORD)
    s = flotilla_server.start_flotilla(flotilla_server.default_bin(), OUT / "data", env=env)
    try:
        for family, stores in STORES.items():
            call(s.url, "POST", "/api/fleet/v1/families", {"name": family, "levels": ["store"]})
            for rnd in range(2):
                versions = [
                    {
                        "family": family,
                        "partition": f"store=s{i:02}",
                        "source": "mlflow-artifacts:/m",
                        "metrics": [["rmse", 0.1 + i / 100 + rnd / 10]],
                        "aliases": ["champion"] if rnd else [],
                    }
                    for i in range(stores)
                ]
                call(s.url, "POST", "/api/fleet/v1/versions/bulk", {"versions": versions})
        yield s
    finally:
        s.stop()


def report(server, name, *args):
    out = OUT / name
    env = dict(os.environ, MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    env.pop("FLOTILLA_DATA_DIR", None)
    cmd = [flotilla_server.default_bin(), "report", "--server", server.url, "--last", "7d",
           "--out", str(out / "report.html"), "--csv", str(out / "csv"), "--parquet", str(out / "parquet"), *args]
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    return out, done


def tables(out, name):
    csv = pd.read_csv(out / "csv" / f"{name}.csv")
    parquet = pq.read_table(out / "parquet" / f"{name}.parquet").to_pandas()
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    return csv


def test_fleet_report_totals_match_the_api(server):
    out, done = report(server, "fleet")
    assert done.returncode == 0, done.stderr
    facets = call(server.url, "GET", "/api/fleet/v1/facets")
    families = tables(out, "inventory_families")
    assert families["models"].sum() == facets["total"]
    assert dict(zip(families["family"], families["models"])) == {f["value"]: f["count"] for f in facets["families"]}
    versions = call(server.url, "GET", "/api/fleet/v1/versions?max_results=1000")["versions"]
    assert families["versions"].sum() == len(versions)
    assert tables(out, "inventory_registrations")["models_registered"].sum() == facets["total"]
    champions = {a["value"]: a["count"] for a in facets["aliases"]}["champion"]
    assert families["champion"].sum() == champions
    promotions = tables(out, "promotions")
    events = call(server.url, "GET", "/api/fleet/v1/audit?max_results=1000")["events"]
    assert promotions["moves"].sum() == len(events)
    quality = tables(out, "quality")
    assert set(quality["family"]) == set(STORES)
    assert (quality["models"] == [STORES[f] for f in quality["family"]]).all()
    assert pq.read_table(out / "parquet" / "inventory_families.parquet").schema.field("models").type == "int64"
    html = (out / "report.html").read_text()
    assert "<script" not in html and len(html) < 2 << 20


def test_family_report_totals_match_the_api(server):
    out, done = report(server, "family", "--family", "demand")
    assert done.returncode == 0, done.stderr
    facets = call(server.url, "GET", "/api/fleet/v1/facets?family=demand")
    families = tables(out, "inventory_families")
    assert list(families["family"]) == ["demand"]
    assert families["models"].sum() == facets["total"] == STORES["demand"] + 1


@pytest.mark.parametrize(
    "args,says",
    [
        (["--family", "nope"], "nope"),
        (["--from", "2025-01-08", "--to", "2025-01-08"], "empty"),
        (["--from", "2999-01-01"], "future"),
    ],
)
def test_bad_input_is_a_clear_failure_and_writes_nothing(server, args, says):
    name = "bad-" + "-".join(a.strip("-") for a in args)
    out = OUT / name
    env = dict(os.environ, MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    cmd = [flotilla_server.default_bin(), "report", "--server", server.url, "--out", str(out / "r.html"), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr
    assert not (out / "r.html").exists()
