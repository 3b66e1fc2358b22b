"""Column inputs (MLServer's pandas-codec convention): a model logged with a column signature
(`infer_signature` on a pandas DataFrame) lists its columns in V2 metadata, takes one V2 input
per column (shape [N] or [N, 1], any numeric datatype, in any order) assembled in the
signature's order, and answers MLflow's scoring protocol with DataFrames whose columns are
matched by name. Unknown, missing and text columns are refused naming the column."""

import numpy as np
import pandas as pd
import pytest
import requests

import mlflow
from mlflow.models import infer_signature
from scoring_util import assert_same, mlflow_answer, payload
from serving_util import assert_error, assert_output, post_json, request, unique

COLUMNS = ["price", "qty", "discount"]


@pytest.fixture(scope="module")
def logged(url, client):
    """An XGBoost regressor trained on a DataFrame, logged with its column signature."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(200, 3)), columns=COLUMNS)
    y = df["price"] * 2 - df["qty"] + np.sin(df["discount"])
    booster = xgb.train({"max_depth": 3, "seed": 0, "nthread": 1}, xgb.DMatrix(df, y), num_boost_round=15)
    name = unique("columns")
    mlflow.set_experiment(experiment_id=client.create_experiment(unique("columns")))
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(
            booster, name="model", signature=infer_signature(df, booster.predict(xgb.DMatrix(df))), registered_model_name=name
        )
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    return name, df.head(6), booster.predict(xgb.DMatrix(df.head(6))), local


def column_input(name, values, datatype="FP64", shape=None):
    values = np.asarray(values)
    return {"name": name, "shape": shape or [len(values)], "datatype": datatype, "data": values.tolist()}


def test_metadata_lists_the_columns(url, logged):
    name, *_ = logged
    meta = request(url, "GET", f"/v2/models/{name}").json()
    assert meta["inputs"] == [{"name": c, "datatype": "FP64", "shape": [-1]} for c in COLUMNS]


def test_one_input_per_column_in_any_order(url, logged):
    name, df, want, _ = logged
    inputs = [
        column_input("discount", df["discount"], "FP32", [len(df), 1]),
        column_input("price", df["price"]),
        column_input("qty", df["qty"]),
    ]
    r = post_json(url, f"/v2/models/{name}/infer", {"inputs": inputs})
    assert r.status == 200, r
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert_output("predict", out["predict"]["data"], out["predict"]["datatype"], want, 1e-5)


def test_tritonclient_sends_columns(triton, logged):
    import tritonclient.http as httpclient

    name, df, want, _ = logged
    inputs = []
    for c in COLUMNS:
        i = httpclient.InferInput(c, [len(df)], "FP64")
        i.set_data_from_numpy(df[c].to_numpy(np.float64), binary_data=True)
        inputs.append(i)
    result = triton.infer(name, inputs)
    assert_output("predict", result.as_numpy("predict"), "FP32", want, 1e-5)


BAD = [
    ("unknown column", [("price", "FP64"), ("qty", "FP64"), ("discount", "FP64"), ("tax", "FP64")], "unknown column 'tax'"),
    ("missing column", [("price", "FP64"), ("qty", "FP64")], "missing column 'discount'"),
    ("text column", [("price", "BYTES"), ("qty", "FP64"), ("discount", "FP64")], "column 'price' is text (BYTES)"),
]


@pytest.mark.parametrize("what,columns,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_columns_are_named(url, logged, what, columns, fragment):
    name, *_ = logged
    inputs = [
        {"name": c, "shape": [2], "datatype": t, "data": ["a", "b"] if t == "BYTES" else [1.0, 2.0]}
        for c, t in columns
    ]
    assert_error(post_json(url, f"/v2/models/{name}/infer", {"inputs": inputs}), 400, fragment)


def test_scoring_protocol_matches_columns_by_name(url, logged):
    name, df, want, local = logged
    shuffled = df[["qty", "discount", "price"]]
    for kind in ("dataframe_split", "dataframe_records", "csv"):
        body, content_type = payload(kind, shuffled.to_numpy(), columns=list(shuffled.columns))
        r = requests.post(f"{url}/invocations/models/{name}", data=body, headers={"Content-Type": content_type}, timeout=60)
        assert r.status_code == 200, r.text
        status, reference = mlflow_answer(local, body, content_type)
        assert status == 200, reference
        assert_same(r.json(), reference, 1e-5)
        assert_output("predictions", r.json()["predictions"], "FP32", want, 1e-5)
    body, content_type = payload("csv", df.to_numpy(), columns=["price", "qty", "tax"])
    r = requests.post(f"{url}/invocations/models/{name}", data=body, headers={"Content-Type": content_type}, timeout=60)
    assert r.status_code == 400 and "unknown column 'tax'" in r.json()["message"], r.text
