"""log_model -> register_model -> load_model with the xgboost flavor.

3.x clients create a LoggedModel (logged-models/*, runs/outputs, artifacts under
models/<model_id>); 2.x clients write under the run and call runs/log-model.
"""

import json

import mlflow
import mlflow.pyfunc
import mlflow.xgboost
import numpy as np
import pytest
import xgboost as xgb

from compat_util import IS_MLFLOW3, model_name_kwarg, unique

X = np.random.RandomState(7).rand(64, 4)
Y = (X[:, 0] + X[:, 1] > 1.0).astype(int)


@pytest.fixture(scope="module")
def logged():
    """A small booster logged in its own run and registered twice under one name."""
    params = {"objective": "binary:logistic", "max_depth": 3}
    booster = xgb.train(params, xgb.DMatrix(X, label=Y), num_boost_round=8)
    experiment_id = mlflow.MlflowClient().create_experiment(unique("models"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("train_acc", 0.97)
        info = mlflow.xgboost.log_model(
            booster,
            **model_name_kwarg("model"),
            model_format="json",
            pip_requirements=["xgboost"],  # skip the slow requirement inference
        )
    name = unique("xgb")
    first = mlflow.register_model(info.model_uri, name)
    second = mlflow.register_model(info.model_uri, name)  # name exists now: still a new version
    return {
        "booster": booster,
        "experiment_id": experiment_id,
        "run_id": run.info.run_id,
        "info": info,
        "name": name,
        "versions": (first.version, second.version),
    }


def expected_predictions(logged):
    return logged["booster"].predict(xgb.DMatrix(X))


def test_register_model_creates_versions(client, logged):
    assert logged["versions"] == ("1", "2")
    mv = client.get_model_version(logged["name"], "1")
    assert mv.status == "READY"
    assert mv.run_id == logged["run_id"]
    if IS_MLFLOW3:
        assert mv.source == logged["info"].model_uri == f"models:/{logged['info'].model_id}"
    else:
        assert mv.source.endswith(f"{logged['run_id']}/artifacts/model")


@pytest.mark.skipif(not IS_MLFLOW3, reason="LoggedModel entities exist from MLflow 3 on")
def test_logged_model_entity(client, logged):
    info = logged["info"]
    model = mlflow.get_logged_model(info.model_id)

    assert info.model_id.startswith("m-")
    assert model.model_id == info.model_id
    assert model.name == "model"
    assert model.experiment_id == logged["experiment_id"]
    assert model.source_run_id == logged["run_id"]
    assert str(model.status) in ("READY", "LoggedModelStatus.READY")
    experiment_id = logged["experiment_id"]
    assert model.artifact_location == f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    # log_model links the run's latest metrics to the model (log-batch with model_id)
    assert [(m.key, m.value) for m in model.metrics] == [("train_acc", 0.97)]
    outputs = client.get_run(logged["run_id"]).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]
    found = client.search_logged_models([logged["experiment_id"]], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [info.model_id]


@pytest.mark.skipif(IS_MLFLOW3, reason="2.x records the model on the run via runs/log-model")
def test_log_model_history_tag(client, logged):
    history = json.loads(client.get_run(logged["run_id"]).data.tags["mlflow.log-model.history"])
    assert [(h["artifact_path"], "xgboost" in h["flavors"]) for h in history] == [("model", True)]


def test_download_uri_points_at_model_artifacts(client, logged):
    uri = client.get_model_version_download_uri(logged["name"], "1")
    if IS_MLFLOW3:
        assert uri == f"mlflow-artifacts:/{logged['experiment_id']}/models/{logged['info'].model_id}/artifacts"
    else:
        assert uri == f"mlflow-artifacts:/{logged['experiment_id']}/{logged['run_id']}/artifacts/model"
    files = {f.path for f in mlflow.artifacts.list_artifacts(artifact_uri=uri)}
    assert {"MLmodel", "model.json"} <= {p.rsplit("/", 1)[-1] for p in files}


@pytest.mark.parametrize(
    ("uri_template", "alias"),
    [
        ("models:/{name}@champion", "champion"),
        ("models:/{name}/1", None),
        ("models:/{name}/latest", None),
        ("{model_uri}", None),
        ("runs:/{run_id}/model", None),
    ],
)
@pytest.mark.parametrize("loader", ["xgboost", "pyfunc"])
def test_load_model_predicts_like_the_original(client, logged, uri_template, alias, loader):
    if alias:
        client.set_registered_model_alias(logged["name"], alias, "2")
    uri = uri_template.format(name=logged["name"], model_uri=logged["info"].model_uri, run_id=logged["run_id"])

    if loader == "xgboost":
        predictions = mlflow.xgboost.load_model(uri).predict(xgb.DMatrix(X))
    else:
        predictions = np.asarray(mlflow.pyfunc.load_model(uri).predict(X))

    np.testing.assert_allclose(predictions, expected_predictions(logged), rtol=1e-6)
