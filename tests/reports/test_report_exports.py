"""A fleet report's CSV and Parquet tables, read with pandas and pyarrow, against the API.

Starts flotilla with --auth basic, makes two families through the fleet API (with lineage:
half of each family's champions trained on a superseded digest) and posts predictions to a
few models, runs `flotilla report --server` for the fleet and for one family, and checks that
the exported tables' totals equal the fleet API's facets and listings, the lineage stale read
and the telemetry windows for the same scope, that CSV and Parquet hold the same rows, and
that bad input fails with a clear message and no file.
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
# Rows of predictions posted to version 2 of these models.
POSTED = {"demand.store=s00": 7, "demand.store=s03": 4, "fraud.store=s01": 2}


def call(url, method, path, body=None, raw=None, media="application/json"):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", AUTH)
    if data is not None:
        req.add_header("Content-Type", media)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def dataset(family, digest):
    return [{"name": f"train-{family}", "digest": digest, "context": "training"}]


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
                        # The first round trains on digest a; the champions of odd stores on b,
                        # the newer digest, so the even stores' champions are on superseded data.
                        "datasets": dataset(family, "b" if rnd and i % 2 else "a"),
                    }
                    for i in range(stores)
                ]
                call(s.url, "POST", "/api/fleet/v1/versions/bulk", {"versions": versions})
        for model, n in POSTED.items():
            rows = "".join(json.dumps({"f0": float(i), "prediction": 1.0}) + "\n" for i in range(n))
            path = f"/api/monitor/v1/models/{model}/versions/2/predictions"
            call(s.url, "POST", path, raw=rows.encode(), media="application/x-ndjson")
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
    for section in ("staleness", "serving", "drift", "data"):
        assert f'id="{section}"' in html


def telemetry_rows(server, model):
    path = f"/api/monitor/v1/models/{model}/telemetry?version=2&grain=day&from=0"
    return sum(w["rows"] for w in call(server.url, "GET", path)["windows"])


def test_new_sections_totals_match_the_api(server):
    out, done = report(server, "fleet-sections")
    assert done.returncode == 0, done.stderr
    facets = call(server.url, "GET", "/api/fleet/v1/facets")
    champions = {a["value"]: a["count"] for a in facets["aliases"]}["champion"]
    staleness = tables(out, "staleness_families")
    assert staleness["models"].sum() == facets["total"]
    assert staleness["champions"].sum() == champions
    served = {m: telemetry_rows(server, m) for m in POSTED}
    assert served == POSTED
    assert staleness["never_served"].sum() == facets["total"] - len(POSTED)
    serving = tables(out, "serving_families")
    assert serving["rows"].sum() == sum(served.values())
    assert dict(zip(serving["family"], serving["models_served_peak_day"])) == {"demand": 2, "fraud": 1}
    # Posted predictions go through no model cache (V2 traffic's counts are tested in Rust).
    cache = tables(out, "serving_cache")
    assert list(cache["family"]) == list(serving["family"])
    assert cache["cache_hits"].sum() == cache["cache_misses"].sum() == 0
    assert (cache["model_memory_peak_mib"] == 0).all()
    assert tables(out, "serving_weeks")["rows"].sum() == sum(served.values())
    stale = call(server.url, "GET", "/api/data/v1/lineage/stale")["versions"]
    stale_champions = [v for v in stale if v["alias"] == "champion"]
    data = tables(out, "data_families")
    assert data["on_superseded_data"].sum() == len(stale_champions) == sum((n + 1) // 2 for n in STORES.values())
    assert data["with_training_data"].sum() == champions
    datasets = tables(out, "data_datasets")
    assert datasets["champions"].sum() == champions
    superseded = datasets[datasets["superseded"] == "yes"]
    assert sorted(superseded["dataset"]) == sorted(f"train-{f}" for f in STORES)
    assert superseded["champions"].sum() == len(stale_champions)
    # No champion was replaced (each was set once): nothing regressed or improved.
    events = call(server.url, "GET", "/api/fleet/v1/audit?max_results=1000")["events"]
    assert not [e for e in events if e["alias"] == "champion" and e["from"] is not None]
    assert len(tables(out, "quality_regressions")) == 0 and len(tables(out, "quality_improvements")) == 0


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
