"""Fills a real MLflow tracking server with the real client, the way users fill theirs, and
writes a JSON manifest of what it made.

What it makes (the import test checks each against flotilla after the import):
- experiments with tags, a unicode one, a deleted one;
- runs: a parent with three nested children, explicit start/end times, each status
  (FINISHED, FAILED, KILLED), users set through `mlflow.user`, a deleted run;
- params, tags, metric histories (500 steps of a loss, NaN and ±inf values, two points at one
  step);
- datasets as inputs (`mlflow.log_input` of a pandas dataset with context tags);
- models: an XGBoost booster logged with `mlflow.xgboost.log_model` (a LoggedModel with
  params and metrics linked on 3.x), registered; a model logged in a run that is then deleted,
  whose registered version survives;
- a registry: models with descriptions and tags, versions with tags and descriptions, the alias
  `champion`, stages Production and Archived, a deleted version, a deleted registered model, a
  unicode name, and
  `demand-001`..`demand-005` for the family-rule check;
- artifacts: a nested directory of text and binary files beside the model.

As a command (in a client venv, against a running server)::

    python fill_mlflow.py --tracking-uri http://127.0.0.1:5000 --manifest out/manifest.json
"""

import argparse
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import mlflow
import mlflow.xgboost
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3
# Start times well in the past, a minute apart, so that ids and times are clearly kept (not
# "now" at import time).
T0 = 1_700_000_000_000
FEATURES = 4
PREDICT_ROWS = 8


def training_data(seed=3, n=200):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    y = x[:, 0] * 1.5 - x[:, 1] + np.sin(x[:, 2])
    return x, y


def log_xgboost(booster, path, **kw):
    """`mlflow.xgboost.log_model` with the argument each major version names the path by."""
    if MLFLOW3:
        return mlflow.xgboost.log_model(booster, name=path, **kw)
    return mlflow.xgboost.log_model(booster, artifact_path=path, **kw)


def write_tree(root):
    """A nested directory of files: text, empty, binary, unicode names."""
    files = {
        "README.txt": b"artifacts of the import test\n",
        "empty.txt": b"",
        "data/rows.csv": b"a,b\n1,2\n3,4\n",
        "data/deeper/blob.bin": os.urandom(300_000),
        "data/deeper/\u00e9t\u00e9 \u6570\u636e.txt": "unicode name, unicode body: \u00e9\u6570\n".encode(),
    }
    for rel, body in files.items():
        p = Path(root) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    return sorted(files)


def metric_history(run_id, client):
    """500 steps of `loss`, special values in `odd`, and two points at one step of `dup`."""
    metrics = [Metric("loss", 1.0 / (s + 1), T0 + 1000 * s, s) for s in range(500)]
    odd = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e300, 3.5]
    metrics += [Metric("odd", v, T0 + 7 * i, i) for i, v in enumerate(odd)]
    metrics += [Metric("dup", 1.0, T0 + 5, 2), Metric("dup", 2.0, T0 + 6, 2)]
    for i in range(0, len(metrics), 200):
        client.log_batch(run_id, metrics=metrics[i : i + 200])


def fill(client):
    m = {"mlflow_version": mlflow.__version__, "experiments": {}, "runs": {}, "models": {}}
    exp = client.create_experiment("import-e2e", tags={"team": "forecast", "tier": "gold"})
    exp_uni = client.create_experiment("exp\u00e9riences-\u6570\u636e", tags={"\u5c0f": "\u00e9"})
    exp_gone = client.create_experiment("import-deleted", tags={"why": "deleted before import"})
    m["experiments"] = {"main": exp, "unicode": exp_uni, "deleted": exp_gone}
    mlflow.set_experiment(experiment_id=exp)

    # A parent and its three children: times, statuses and users set explicitly.
    parent = client.create_run(exp, start_time=T0, run_name="parent", tags={"mlflow.user": "alice", "kind": "sweep"})
    pid = parent.info.run_id
    children = []
    for i, status in enumerate(["FINISHED", "FAILED", "KILLED"]):
        child = client.create_run(
            exp,
            start_time=T0 + 60_000 * (i + 1),
            run_name=f"child-{i}",
            tags={"mlflow.parentRunId": pid, "mlflow.user": "bob", "trial": str(i)},
        )
        client.log_batch(
            child.info.run_id,
            params=[Param("max_depth", str(3 + i)), Param("eta", "0.1"), Param("\u00e9chelle", "\u6570")],
            tags=[RunTag("note", "x" * 600)],
        )
        client.log_metric(child.info.run_id, "rmse", 0.5 - 0.1 * i, timestamp=T0 + i, step=0)
        client.set_terminated(child.info.run_id, status=status, end_time=T0 + 60_000 * (i + 1) + 5_000)
        children.append(child.info.run_id)
    metric_history(pid, client)
    client.set_terminated(pid, status="FINISHED", end_time=T0 + 600_000)
    m["runs"].update(parent=pid, children=children)

    # The model run: a dataset input, a logged XGBoost booster, artifacts, registered.
    import xgboost as xgb

    x, y = training_data()
    booster = xgb.train({"max_depth": 3, "seed": 0, "nthread": 1}, xgb.DMatrix(x, y), num_boost_round=15)
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)]).assign(target=y)
    with mlflow.start_run(run_name="train-xgb", tags={"stage": "train"}) as run:
        dataset = mlflow.data.from_pandas(df, source="s3://bucket/train.parquet", name="train-set", targets="target")
        mlflow.log_input(dataset, context="training", tags={"split": "train", "\u7248": "v1"})
        mlflow.log_input(mlflow.data.from_pandas(df.head(20), name="eval-set"), context="eval")
        mlflow.log_params({"max_depth": 3, "num_boost_round": 15})
        mlflow.log_metric("train_rmse", 0.123, step=15)
        info = log_xgboost(booster, "model", **({"params": {"max_depth": "3"}} if MLFLOW3 else {}))
        if MLFLOW3:
            mlflow.log_metric("val_rmse", 0.2, model_id=info.model_id, dataset=dataset)
        with tempfile.TemporaryDirectory() as tmp:
            files = write_tree(tmp)
            mlflow.log_artifacts(tmp, artifact_path="extras")
        mlflow.log_text("top-level text\n", "notes.txt")
    model_run = run.info.run_id
    m["runs"]["model"] = model_run
    m["artifact_files"] = ["extras/" + f for f in files] + ["notes.txt"]
    m["predict_input"] = x[:PREDICT_ROWS].tolist()
    if MLFLOW3:
        m["logged_model_id"] = info.model_id
        client.set_logged_model_tags(info.model_id, {"owner": "alice"})

    # The registry.
    name = "import-e2e-forecaster"
    client.create_registered_model(name, tags={"domain": "demand", "\u5c0f": "\u00e9"}, description="the champion forecaster")
    versions = []
    for i in range(3):
        mv = mlflow.register_model(f"runs:/{model_run}/model", name, tags={"build": str(i)})
        client.update_model_version(name, mv.version, description=f"version {mv.version}")
        versions.append(str(mv.version))
    client.set_registered_model_alias(name, "champion", versions[1])
    client.set_registered_model_alias(name, "candidate", versions[2])
    client.transition_model_version_stage(name, versions[0], "Archived")
    client.transition_model_version_stage(name, versions[1], "Production")
    client.set_model_version_tag(name, versions[1], "validated", "yes")
    # A version deleted at the source (MLflow keeps a redacted row): gone after the import too.
    dropped = mlflow.register_model(f"runs:/{model_run}/model", name)
    client.delete_model_version(name, dropped.version)
    m["models"]["main"] = {"name": name, "versions": versions, "champion": versions[1], "deleted_version": str(dropped.version)}

    # A run deleted after its model was registered: the version must survive the import.
    with mlflow.start_run(run_name="soon-deleted") as gone:
        log_xgboost(booster, "model")
    orphan = "import-e2e-orphan"
    client.create_registered_model(orphan)
    mv = mlflow.register_model(f"runs:/{gone.info.run_id}/model", orphan)
    client.delete_run(gone.info.run_id)
    m["runs"]["deleted"] = gone.info.run_id
    m["models"]["orphan"] = {"name": orphan, "versions": [str(mv.version)], "run_id": gone.info.run_id}

    unicode_name = "mod\u00e8le-\u9884\u6d4b"
    client.create_registered_model(unicode_name, description="\u00e9\u6570")
    mlflow.register_model(f"runs:/{model_run}/model", unicode_name)
    m["models"]["unicode"] = {"name": unicode_name}

    demand = [f"demand-{i:03d}" for i in range(1, 6)]
    for n in demand:
        client.create_registered_model(n, tags={"store": n[-3:]})
        mlflow.register_model(f"runs:/{model_run}/model", n)
    m["models"]["demand"] = demand

    client.create_registered_model("import-e2e-gone", description="deleted before the import")
    client.delete_registered_model("import-e2e-gone")
    m["models"]["deleted"] = "import-e2e-gone"

    # The unicode experiment gets a run of its own; the deleted experiment keeps its run.
    r = client.create_run(exp_uni, run_name="\u8fd0\u884c-\u00e9t\u00e9", start_time=T0 + 1)
    client.log_param(r.info.run_id, "k", "v")
    client.set_terminated(r.info.run_id, end_time=T0 + 2)
    r = client.create_run(exp_gone, run_name="in-deleted-experiment", start_time=T0 + 3)
    client.delete_experiment(exp_gone)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()
    mlflow.set_tracking_uri(args.tracking_uri)
    manifest = fill(MlflowClient(args.tracking_uri))
    Path(args.manifest).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
