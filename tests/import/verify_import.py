"""What `flotilla import mlflow` brought over, checked entity by entity through the mlflow
client against the source MLflow server it was imported from (see conftest.py's `dest`: once
from the source's SQLite file, once over REST).

Entities are compared as their protobuf messages (what the client received), with only the
fields an import must rewrite left out: artifact locations and version sources (their bytes
are compared instead, by SHA-256 of every file downloaded through each server).
"""

import contextlib
import hashlib
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from google.protobuf.json_format import MessageToDict

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType
from conftest import SELF_CHECK

MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3


@contextlib.contextmanager
def using(url):
    """Tracking and registry URIs set to `url` (for the fluent download helpers)."""
    old = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    try:
        yield MlflowClient(url)
    finally:
        mlflow.set_tracking_uri(old[0])
        mlflow.set_registry_uri(old[1])


def as_dict(entity, drop=()):
    d = MessageToDict(entity.to_proto(), preserving_proto_field_name=True)
    for path in drop:
        *parents, leaf = path.split(".")
        node = d
        for p in parents:
            node = node.get(p, {})
        if isinstance(node, dict):
            node.pop(leaf, None)
    return sort_lists(d)


def sort_lists(value):
    """Lists of messages in a stable order (the wire order of tags or params is not a contract)."""
    if isinstance(value, dict):
        return {k: sort_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [sort_lists(v) for v in value]
        return sorted(items, key=repr)
    return value


def diff(a, b, path=""):
    """The paths where two JSON-like values differ, for a readable assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: source {a!r}, flotilla {b!r}"]


def assert_same(kind, src, dst):
    problems = diff(src, dst)
    assert not problems, f"{kind} differ:\n  " + "\n  ".join(problems[:40])


def experiments(client):
    exps = client.search_experiments(view_type=ViewType.ALL, max_results=1000)
    return {e.experiment_id: as_dict(e, drop=["artifact_location"]) for e in exps}


def all_runs(client, experiment_ids):
    runs = client.search_runs(experiment_ids, run_view_type=ViewType.ALL, max_results=1000)
    return {r.info.run_id: r for r in runs}


def run_dict(run):
    return as_dict(run, drop=["info.artifact_uri"])


def point(m):
    """A metric point; NaN made comparable."""
    return ("nan" if math.isnan(m.value) else m.value, m.step, m.timestamp)


def tree_digest(root):
    """{relative path: sha256} of every file under root."""
    root = Path(root)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def downloaded(url, **kw):
    with using(url), tempfile.TemporaryDirectory() as tmp:
        return tree_digest(mlflow.artifacts.download_artifacts(dst_path=tmp, **kw))


def listing(client, run_id, path=None):
    """(path, is_dir, size) of every artifact of the run. An empty file's size is None from
    MLflow (it leaves the field out) and 0 from flotilla: both read as 0 here."""
    out = []
    for f in client.list_artifacts(run_id, path):
        out.append((f.path, f.is_dir, f.file_size or (None if f.is_dir else 0)))
        if f.is_dir:
            out += listing(client, run_id, f.path)
    return out


@pytest.fixture(scope="module")
def src(source):
    return MlflowClient(source.url)


def test_experiments(source, dest, src):
    want = experiments(src)
    assert set(source.manifest["experiments"].values()) <= set(want)
    assert want[source.manifest["experiments"]["deleted"]]["lifecycle_stage"] == "deleted"
    assert_same("experiments", want, experiments(MlflowClient(dest)))


def test_runs_info_params_tags_latest_metrics_inputs(source, dest, src):
    ids = list(experiments(src))
    want = {k: run_dict(r) for k, r in all_runs(src, ids).items()}
    m = source.manifest["runs"]
    assert {m["parent"], m["model"], m["deleted"], *m["children"]} <= set(want)
    assert want[m["deleted"]]["info"]["lifecycle_stage"] == "deleted"
    child_tags = {t["key"]: t["value"] for t in want[m["children"][0]]["data"]["tags"]}
    assert child_tags["mlflow.parentRunId"] == m["parent"]
    assert want[m["model"]]["inputs"]["dataset_inputs"], "the model run has no dataset inputs"
    got = {k: run_dict(r) for k, r in all_runs(MlflowClient(dest), ids).items()}
    assert_same("runs", want, got)


def test_full_metric_histories(source, dest, src):
    dst = MlflowClient(dest)
    runs = all_runs(src, list(experiments(src)))
    checked = 0
    for run_id, run in runs.items():
        for key in run.data.metrics:
            want = sorted(map(point, src.get_metric_history(run_id, key)), key=repr)
            got = sorted(map(point, dst.get_metric_history(run_id, key)), key=repr)
            assert got == want, f"run {run_id} metric {key}: {len(got)} points, want {len(want)}"
            checked += len(want)
    # the parent's 500 steps of loss, 8 odd values, 2 dups, and the children's rmse
    assert checked >= 513


@pytest.mark.skipif(not MLFLOW3, reason="logged models are MLflow 3.x")
def test_logged_models_with_params_metrics_and_artifacts(source, dest, src):
    ids = list(experiments(src))
    drop = ["info.artifact_uri"]
    want = {m.model_id: as_dict(m, drop) for m in src.search_logged_models(experiment_ids=ids, max_results=100)}
    assert source.manifest["logged_model_id"] in want
    got = {m.model_id: as_dict(m, drop) for m in MlflowClient(dest).search_logged_models(experiment_ids=ids, max_results=100)}
    assert_same("logged models", want, got)
    for model_id in want:
        assert downloaded(dest, artifact_uri=f"models:/{model_id}") == downloaded(source.url, artifact_uri=f"models:/{model_id}")


def registry(client):
    models = {m.name: as_dict(m, drop=["latest_versions"]) for m in client.search_registered_models(max_results=1000)}
    versions = {}
    for name in models:
        for v in client.search_model_versions(f"name = '{name}'", max_results=1000):
            versions[(name, v.version)] = as_dict(v, drop=["source", "storage_location"])
    return models, versions


def test_registered_models_and_versions(source, dest, src):
    want_models, want_versions = registry(src)
    m = source.manifest["models"]
    assert m["deleted"] not in want_models
    main = m["main"]["name"]
    assert {a["alias"] for a in want_models[main]["aliases"]} == {"champion", "candidate"}
    assert (main, m["main"]["deleted_version"]) not in want_versions
    stages = {want_versions[(main, v)]["current_stage"] for v in m["main"]["versions"]}
    assert stages == {"Archived", "Production", "None"}
    orphan = want_versions[(m["orphan"]["name"], m["orphan"]["versions"][0])]
    assert orphan["run_id"] == m["orphan"]["run_id"]
    got_models, got_versions = registry(MlflowClient(dest))
    assert_same("registered models", want_models, got_models)
    assert_same("model versions", want_versions, got_versions)


def test_version_sources_download_the_same_files(source, dest, src):
    for mv in src.search_model_versions(max_results=1000):
        uri = f"models:/{mv.name}/{mv.version}"
        want = downloaded(source.url, artifact_uri=uri)
        assert "MLmodel" in want, f"{uri} has no MLmodel file: {sorted(want)}"
        assert downloaded(dest, artifact_uri=uri) == want, uri


def source_run_root(source, run):
    """The run's artifact directory in the source's artifact root. The source's bytes are read
    there, not downloaded: MLflow 2.22.5's proxy cannot serve a file whose name is not Latin-1
    (its `Content-Disposition: attachment; filename=été 数据.txt` makes gunicorn 23 drop the
    connection)."""
    prefix = "mlflow-artifacts:/"
    assert run.info.artifact_uri.startswith(prefix), run.info.artifact_uri
    return source.artifacts / run.info.artifact_uri[len(prefix) :]


def test_run_artifacts_listings_and_bytes(source, dest, src):
    dst = MlflowClient(dest)
    runs = all_runs(src, list(experiments(src)))
    model_run = source.manifest["runs"]["model"]
    for run_id in runs:
        want = listing(src, run_id)
        assert listing(dst, run_id) == want, f"run {run_id} artifact listing"
        if run_id == model_run:
            assert {p for p, _, _ in want} >= set(source.manifest["artifact_files"])
        if want:
            on_disk = tree_digest(source_run_root(source, runs[run_id]))
            assert downloaded(dest, run_id=run_id, artifact_path="") == on_disk, f"run {run_id} artifact bytes"


def test_imported_champion_is_served_over_v2(source, dest):
    import xgboost as xgb

    from serving_request import infer

    main = source.manifest["models"]["main"]
    rows = np.asarray(source.manifest["predict_input"], dtype=np.float32)
    with using(source.url):
        booster = mlflow.xgboost.load_model(f"models:/{main['name']}/{main['champion']}")
    want = booster.predict(xgb.DMatrix(rows))
    assert want.shape == (len(rows),)
    if SELF_CHECK:
        pytest.skip("MLflow's server has no V2 inference endpoint")
    for version in (main["champion"], "champion"):
        got = infer(dest, main["name"], version, rows)
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"version {version}")
