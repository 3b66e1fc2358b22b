"""Models logged the way users log them: `mlflow.<flavor>.log_model(...)` (a 3.x
LoggedModel) and `register_model` / `registered_model_name`, then served at
once over V2 with the reference library's answer."""

import numpy as np
import pytest

import mlflow
from serving_util import assert_output, infer_body, post_json, request, unique


def rows_and_target(n=300, features=5, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = x[:, 0] * 2 - x[:, 1] + np.sin(x[:, 2])
    return x, y


def served(url, name, rows, input_name="input", version=None, datatype="FP32"):
    path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/infer"
    r = post_json(url, path, infer_body(input_name, rows, datatype=datatype))
    assert r.status == 200, r
    return {o["name"]: o for o in r.json()["outputs"]}


@pytest.fixture
def experiment(client):
    exp = client.create_experiment(unique("logmodel"))
    mlflow.set_experiment(experiment_id=exp)
    return exp


def test_xgboost_log_model_registered(url, experiment):
    xgb = pytest.importorskip("xgboost")
    x, y = rows_and_target()
    booster = xgb.train({"max_depth": 3, "seed": 0, "nthread": 1}, xgb.DMatrix(x, y), num_boost_round=20)
    name = unique("xgb-logged")
    with mlflow.start_run():
        mlflow.xgboost.log_model(booster, name="model", registered_model_name=name)
    want = booster.predict(xgb.DMatrix(x[:10]))
    got = served(url, name, x[:10])
    assert_output("predict", got["predict"]["data"], got["predict"]["datatype"], want, 1e-5)
    meta = request(url, "GET", f"/v2/models/{name}").json()
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 5]}]


def test_xgboost_classifier_register_model(url, experiment):
    xgb = pytest.importorskip("xgboost")
    x, y = rows_and_target()
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0, n_jobs=1).fit(x, (y > 0).astype(int))
    name = unique("xgb-clf")
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(model, name="clf")
    mv = mlflow.register_model(info.model_uri, name)
    assert mv.version == "1" or mv.version == 1
    got = served(url, name, x[:10])
    proba = model.predict_proba(x[:10])[:, 1]
    assert_output("predict", got["predict"]["data"], got["predict"]["datatype"], proba, 1e-5)
    assert got["label"]["datatype"] == "INT64"
    assert_output("label", got["label"]["data"], "INT64", model.predict(x[:10]), 0)


def test_lightgbm_booster_log_model(url, experiment):
    lgb = pytest.importorskip("lightgbm")
    x, y = rows_and_target()
    booster = lgb.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1, "seed": 0}, lgb.Dataset(x, y), num_boost_round=20
    )
    name = unique("lgb-logged")
    with mlflow.start_run():
        mlflow.lightgbm.log_model(booster, name="model", registered_model_name=name)
    got = served(url, name, x[:10])
    assert_output("predict", got["predict"]["data"], got["predict"]["datatype"], booster.predict(x[:10]), 1e-5)


def skops_trusted(model):
    """The types mlflow's skops check wants named for `model` (scikit-learn's own `Tree`, ...)."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle", "pickle"])
def test_lightgbm_sklearn_api_log_model(url, experiment, fmt):
    """LGBMRegressor as mlflow.lightgbm logs it: the booster inside is read, never unpickled."""
    lgb = pytest.importorskip("lightgbm")
    x, y = rows_and_target()
    model = lgb.LGBMRegressor(n_estimators=5, verbose=-1, n_jobs=1).fit(x, y)
    name = unique(f"lgb-sk-{fmt}")
    trusted = skops_trusted(model) if fmt == "skops" else None
    with mlflow.start_run():
        mlflow.lightgbm.log_model(model, name="model", registered_model_name=name, serialization_format=fmt,
                                  skops_trusted_types=trusted)
    got = served(url, name, x[:10].astype(np.float64), datatype="FP64")
    assert_output("predict", got["predict"]["data"], got["predict"]["datatype"], model.predict(x[:10]), 1e-6)


@pytest.mark.parametrize("fmt", [None, "cloudpickle"], ids=["default-skops", "cloudpickle"])
def test_sklearn_log_model(url, experiment, fmt):
    """A scaler + logistic regression pipeline and a random forest as mlflow.sklearn logs them
    (skops by default, cloudpickle as autolog writes), served with scikit-learn's answers."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.linear_model import LogisticRegression

    x, y = rows_and_target()
    label = (y > 0).astype(int)
    for kind, model in [
        ("pipe", make_pipeline(StandardScaler(), LogisticRegression()).fit(x, label)),
        ("rf", RandomForestClassifier(10, max_depth=5, random_state=0).fit(x, label)),
    ]:
        name = unique(f"sk-{kind}-{fmt or 'skops'}")
        trusted = skops_trusted(model) if fmt is None else None
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name=name, serialization_format=fmt,
                                     skops_trusted_types=trusted)
        rows = x[:10].astype(np.float64)
        got = served(url, name, rows, datatype="FP64")
        assert_output("predict", got["predict"]["data"], got["predict"]["datatype"], model.predict(rows), 0)
        assert_output("predict_proba", got["predict_proba"]["data"], "FP64", model.predict_proba(rows), 1e-6)


def test_onnx_log_model(url, experiment):
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.linear_model import LogisticRegression
    import onnxruntime as ort

    x, y = rows_and_target()
    model = LogisticRegression(max_iter=300).fit(x, (y > 0).astype(int))
    onx = skl2onnx.to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    name = unique("onnx-logged")
    with mlflow.start_run():
        mlflow.onnx.log_model(onx, name="model", registered_model_name=name)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    want = dict(zip([o.name for o in session.get_outputs()], session.run(None, {input_name: x[:10]})))
    meta = request(url, "GET", f"/v2/models/{name}").json()
    assert [i["name"] for i in meta["inputs"]] == [input_name]
    got = served(url, name, x[:10], input_name=input_name)
    assert set(want) <= set(got)
    for out, value in want.items():
        assert_output(out, got[out]["data"], got[out]["datatype"], value, 1e-5)
