"""Runs: lifecycle, params, metrics, tags, batches, metric history, datasets."""

import math
import sys
import time

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType

from compat_util import STRICT, unique


def test_create_run_then_terminate(client, experiment_id):
    start = int(time.time() * 1000)
    run = client.create_run(experiment_id, run_name="first", tags={"owner": "compat"}, start_time=start)

    assert run.info.status == "RUNNING"
    assert run.info.run_name == "first"
    assert run.info.experiment_id == experiment_id
    assert run.info.start_time == start
    assert run.info.lifecycle_stage == "active"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"
    assert run.data.tags["owner"] == "compat"
    assert run.data.tags["mlflow.runName"] == "first"

    client.set_terminated(run.info.run_id, status="FAILED", end_time=start + 5000)
    done = client.get_run(run.info.run_id).info
    assert (done.status, done.end_time) == ("FAILED", start + 5000)


def test_fluent_start_and_end_run(experiment_id, client):
    with mlflow.start_run(experiment_id=experiment_id, run_name="fluent") as active:
        run_id = active.info.run_id
        assert client.get_run(run_id).info.status == "RUNNING"

    fetched = client.get_run(run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.info.run_name == "fluent"
    assert fetched.info.end_time >= fetched.info.start_time
    # context tags the fluent API attaches at creation come back
    assert fetched.data.tags["mlflow.user"]
    assert fetched.data.tags["mlflow.source.type"] == "LOCAL"


def test_run_without_name_gets_one(client, experiment_id):
    run = client.create_run(experiment_id)
    assert run.info.run_name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_params_metrics_tags_round_trip(client, run):
    run_id = run.info.run_id
    client.log_param(run_id, "lr", "0.01")
    client.log_param(run_id, "lr", "0.01")  # same value again is allowed
    client.log_param(run_id, "depth", 6)
    for step, value in enumerate([0.5, 0.7, 0.9]):
        client.log_metric(run_id, "acc", value, step=step, timestamp=1_000 + step)
    client.log_metric(run_id, "loss", 0.25)
    client.set_tag(run_id, "stage", "train")
    client.set_tag(run_id, "drop-me", "x")
    client.delete_tag(run_id, "drop-me")

    data = client.get_run(run_id).data

    assert data.params == {"lr": "0.01", "depth": "6"}
    assert data.metrics == {"acc": 0.9, "loss": 0.25}  # latest step wins
    assert data.tags["stage"] == "train"
    assert "drop-me" not in data.tags
    history = client.get_metric_history(run_id, "acc")
    assert [(m.step, m.timestamp, m.value) for m in history] == [(0, 1000, 0.5), (1, 1001, 0.7), (2, 1002, 0.9)]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_nan_and_infinity_round_trip(client, run):
    run_id = run.info.run_id
    values = {"nan": math.nan, "pos_inf": math.inf, "neg_inf": -math.inf, "big": 1.5e308, "tiny": 5e-324}
    for key, value in values.items():
        client.log_metric(run_id, key, value)

    metrics = client.get_run(run_id).data.metrics

    assert math.isnan(metrics["nan"])
    # STRICT: flotilla keeps +-inf exactly. MLflow 3.17.2's SQL store clamps them to
    # +-sys.float_info.max, which the client also accepts.
    infinities = (math.inf,) if STRICT else (math.inf, sys.float_info.max)
    assert metrics["pos_inf"] in infinities
    assert -metrics["neg_inf"] in infinities
    assert metrics["big"] == 1.5e308
    assert metrics["tiny"] == 5e-324
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)
    assert -client.get_metric_history(run_id, "neg_inf")[0].value in infinities


def test_log_batch_with_1000_metrics_in_one_call(client, run):
    run_id = run.info.run_id
    keys = [f"m{k}" for k in range(10)]
    metrics = [
        Metric(key, k * 1000 + step, 10_000 + step, step) for k, key in enumerate(keys) for step in range(100)
    ]
    assert len(metrics) == 1000

    client.log_batch(run_id, metrics=metrics)
    client.log_batch(
        run_id,
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", f"v{i}") for i in range(100)],
    )

    data = client.get_run(run_id).data
    assert data.metrics == {key: k * 1000 + 99 for k, key in enumerate(keys)}
    assert data.params == {f"p{i}": str(i) for i in range(100)}
    assert all(data.tags[f"t{i}"] == f"v{i}" for i in range(100))
    history = client.get_metric_history(run_id, "m3")
    assert [(m.step, m.value) for m in history] == [(s, 3000 + s) for s in range(100)]


def test_metric_history_spans_several_pages(client, run):
    """30 000 points: more than one 25 000-point page of metrics/get-history."""
    run_id = run.info.run_id
    total = 30_000
    for start in range(0, total, 1000):
        chunk = [Metric("curve", s * 0.5, 1_000_000 + s, s) for s in range(start, start + 1000)]
        client.log_batch(run_id, metrics=chunk)

    history = client.get_metric_history(run_id, "curve")

    assert len(history) == total
    assert [m.step for m in history] == list(range(total))
    assert [m.value for m in history] == [s * 0.5 for s in range(total)]
    assert client.get_run(run_id).data.metrics["curve"] == (total - 1) * 0.5
    # The client paged: the first page is capped at 25 000 and carries a token.
    store = client._tracking_client.store
    first = store.get_metric_history(run_id, "curve", max_results=25_000)
    assert len(first) == 25_000 and first.token


def test_delete_and_restore_run(client, run):
    run_id, exp_id = run.info.run_id, run.info.experiment_id

    def ids(view_type):
        return [r.info.run_id for r in client.search_runs([exp_id], run_view_type=view_type)]

    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert ids(ViewType.ACTIVE_ONLY) == []
    assert ids(ViewType.DELETED_ONLY) == [run_id]

    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == [run_id]


def test_log_input_dataset(experiment_id, client):
    features = np.arange(12, dtype=np.float64).reshape(4, 3)
    dataset = mlflow.data.from_numpy(features, source="s3://compat-bucket/features.npy", name="compat-features")

    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})

    inputs = client.get_run(active.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    logged = inputs[0].dataset
    assert (logged.name, logged.digest) == ("compat-features", dataset.digest)
    assert logged.source_type == "s3"
    assert "compat-bucket" in logged.source
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training", "split": "train"}

    found = client.search_runs([experiment_id], filter_string="datasets.name = 'compat-features'")
    assert [r.info.run_id for r in found] == [active.info.run_id]
    found = client.search_runs([experiment_id], filter_string="dataset.context = 'training'")
    assert [r.info.run_id for r in found] == [active.info.run_id]


def test_run_status_values_are_strings(client, run):
    """The client compares info.status against RunStatus names."""
    for status in ("FAILED", "KILLED", "FINISHED"):
        client.update_run(run.info.run_id, status=status)
        assert client.get_run(run.info.run_id).info.status == status
    assert RunStatus.from_string(client.get_run(run.info.run_id).info.status) == RunStatus.FINISHED


def test_update_run_name(client, run):
    new_name = unique("run")
    client.update_run(run.info.run_id, name=new_name)
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == new_name
    assert fetched.data.tags["mlflow.runName"] == new_name


def test_logged_dataset_has_lineage(experiment_id, client):
    """What the client logs with log_input is a dataset entity: the MLflow UI's
    search-datasets lists it, and (on flotilla) the data API walks its lineage
    to the version registered from the run and back."""
    import os

    import pandas as pd
    import requests

    frame = pd.DataFrame({"units": [3.0, 5.0, 8.0], "store": ["a", "b", "a"]})
    name = unique("compat-sales")
    dataset = mlflow.data.from_pandas(frame, source="s3://compat-bucket/sales.parquet", name=name)
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_input(dataset, context="training")
    run_id = active.info.run_id
    model = unique("compat-lineage")
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id).version
    client.set_registered_model_alias(model, "champion", version)

    base = mlflow.get_tracking_uri().rstrip("/")
    answer = requests.post(
        f"{base}/ajax-api/2.0/mlflow/experiments/search-datasets",
        json={"experiment_ids": [experiment_id]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    summaries = {(s["name"], s["digest"], s.get("context")) for s in answer.json().get("dataset_summaries", [])}
    assert (name, dataset.digest, "training") in summaries

    if os.environ.get("COMPAT_TARGET_URI"):
        return  # the data API is flotilla's own
    down = requests.get(
        f"{base}/api/data/v1/lineage/downstream", params={"dataset": name, "digest": dataset.digest}, timeout=30
    ).json()
    assert down["total_versions"] == 1 and down["total_runs"] == 1, down
    [v] = down["versions"]
    assert (v["model"], str(v["version"]), v["aliases"], v["context"]) == (model, str(version), ["champion"], "training")
    assert v["run_id"] == run_id
    up = requests.get(
        f"{base}/api/data/v1/lineage/upstream", params={"model": model, "alias": "champion"}, timeout=30
    ).json()
    assert up["run"]["run_id"] == run_id, up
    assert [(d["name"], d["digest"], d["context"]) for d in up["datasets"]] == [(name, dataset.digest, "training")]
    assert "units" in requests.get(
        f"{base}/api/data/v1/datasets/{name}/{dataset.digest}", timeout=30
    ).json()["dataset"]["schema"]
