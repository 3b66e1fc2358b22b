"""Writes the fuzz seed corpus: tiny models trained by the reference libraries
(the serving suite's venv: xgboost, lightgbm, scikit-learn, skl2onnx, onnx) and
hand-written cases for the text targets. Each file stays a few KiB at most.

Usage: .venvs/serving/bin/python fuzz/make_seeds.py  (rewrites fuzz/corpus/<target>/seed-*)
"""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= 8192, (target, name, len(data))
    (d / f"seed-{name}").write_bytes(data)


def data(n=64, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = x[:, 0] - 0.5 * x[:, 1] + (x[:, 2] > 0)
    return x, y


def xgboost_models(tmp):
    import xgboost as xgb

    x, y = data()
    cases = {
        "reg": ({"objective": "reg:squarederror", "max_depth": 2}, y),
        "bin": ({"objective": "binary:logistic", "max_depth": 2}, (y > 0).astype(int)),
        "multi": ({"objective": "multi:softprob", "num_class": 3, "max_depth": 1}, np.digitize(y, [-0.5, 0.5])),
    }
    for name, (params, label) in cases.items():
        booster = xgb.train(params, xgb.DMatrix(x, label=label), num_boost_round=2)
        for ext, target in [("json", "xgboost_json"), ("ubj", "ubjson")]:
            path = tmp / f"{name}.{ext}"
            booster.save_model(str(path))
            put(target, name, path.read_bytes())
    put("xgboost_json", "empty-object", "{}")
    put("ubjson", "empty-object", b"{}")


def lightgbm_models(tmp):
    import lightgbm as lgb

    x, y = data()
    cases = {
        "reg": ({"objective": "regression", "num_leaves": 3}, y),
        "bin": ({"objective": "binary", "num_leaves": 3}, (y > 0).astype(int)),
        "multi": ({"objective": "multiclass", "num_class": 3, "num_leaves": 2}, np.digitize(y, [-0.5, 0.5])),
    }
    for name, (params, label) in cases.items():
        params = {**params, "verbose": -1, "min_data_in_leaf": 5}
        booster = lgb.train(params, lgb.Dataset(x, label=label), num_boost_round=2)
        text = booster.model_to_string()
        # The feature-importance and parameter trailers are not read; keep seeds small.
        text = text.split("\nfeature_importances:")[0] + "\nend of trees\n"
        put("lightgbm", name, text)


def onnx_models():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    make_attribute = helper.make_attribute

    def bools_as_ints(key, value, *args, **kwargs):
        if isinstance(value, (list, tuple, np.ndarray)) and len(value) and isinstance(value[0], (bool, np.bool_)):
            value = [int(v) for v in value]
        return make_attribute(key, value, *args, **kwargs)

    helper.make_attribute = bools_as_ints
    x, y = data()
    opsets = {"": 17, "ai.onnx.ml": 3}
    models = {
        "linreg": to_onnx(LinearRegression().fit(x, y), x[:1], target_opset=opsets),
        "logreg": to_onnx(
            LogisticRegression().fit(x, y > 0), x[:1], options={"zipmap": False}, target_opset=opsets
        ),
        "tree-reg": to_onnx(DecisionTreeRegressor(max_depth=2).fit(x, y), x[:1], target_opset=opsets),
        "tree-clf": to_onnx(
            DecisionTreeClassifier(max_depth=2).fit(x, y > 0), x[:1], options={"zipmap": False}, target_opset=opsets
        ),
    }
    w = numpy_helper.from_array(np.ones((3, 2), dtype=np.float32), "w")
    b = numpy_helper.from_array(np.zeros((2,), dtype=np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ],
        "tiny-relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        initializer=[w, b],
    )
    relu = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    relu.ir_version = 8
    models["relu"] = relu
    for name, model in models.items():
        put("onnx", name, model.SerializeToString())


def text_seeds():
    entities = range(5)  # runs, experiments, registered models, model versions, logged models
    filters = {
        0: [
            "metrics.rmse < 0.5 and params.lr = '0.01'",
            "tags.`mlflow.runName` LIKE 'ab%' AND attributes.status = 'FINISHED'",
            "run_id IN ('a', 'b') and datasets.name = 'train' and metrics.\"a b\" >= -1e-3",
            "params.x IS NULL and tags.y IS NOT NULL and `Run name` ILIKE '%x\\'y%'",
            "attributes.start_time > 1700000000000 AND end_time != 0",
        ],
        1: ["name = 'exp' and tags.team = 'a'", "experiment_id NOT IN ('1','2') and creation_time > 0"],
        2: ["name LIKE '%churn%' and tags.`flotilla.family` = 'f'", "name IN ('a', 'b')"],
        3: ["name = 'm' and version_number >= 2", "run_id = 'r' and source_path LIKE 's3%'"],
        4: ["metrics.acc > 0.9 and model_type = 'x'", "creation_timestamp > 5 AND params.a = 'b'"],
    }
    orders = {
        0: ["metrics.rmse DESC", "attributes.start_time ASC", "params.`a b`"],
        1: ["creation_time desc", "name"],
        2: ["timestamp DESC", "name ASC"],
        3: ["last_updated_timestamp", "version_number DESC"],
        4: ["metrics.acc DESC", "creation_time"],
    }
    for e in entities:
        for i, f in enumerate(filters[e]):
            put("filter", f"{e}-{i}", bytes([e]) + f.encode())
        for i, o in enumerate(orders[e]):
            put("order_by", f"{e}-{i}", bytes([e]) + o.encode())
    paths = ["model/MLmodel", "a/b/c.txt", "dir/", "x%2e%2e/y", "%252e%252e/etc", "a/%c0%ae/b", "été/日本.bin",
             "12:00/file", "a//b", "../x", "C:/x"]
    for i, p in enumerate(paths):
        put("artifact_path", str(i), p)
    uris = ["mlflow-artifacts:/1/abc/artifacts/model", "runs:/0123abcd/model", "models:/name/3", "models:/n@champion",
            "models:/m-0123456789abcdef", "models:/name/latest", "models:/name/Production", "file:///etc/passwd",
            "mlflow-artifacts://host/x", "mlflow-artifacts:/a%2F..%2Fb", "runs:/r/", "s3://bucket/key"]
    for i, u in enumerate(uris):
        put("artifact_uri", str(i), u)
    import base64

    def token(values):
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    tokens = [(3, [1700000000000, "name", 5]), (1, [42]), (2, [None, "x"]), (1, [[1]]), (2, [1.5, True]), (0, [])]
    for i, (k, v) in enumerate(tokens):
        put("page_token", str(i), bytes([k]) + token(v).encode())
    put("page_token", "garbage", bytes([2]) + b"!!not base64==")
    v2_json = [
        {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]},
        {"id": "7", "inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [[1, 2]]}],
         "outputs": [{"name": "y", "parameters": {"binary_data": True}}]},
        {"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "data": ["a", "bc"]},
                    {"name": "b", "shape": [1], "datatype": "BOOL", "data": [True]}],
         "parameters": {"partition": "region=west"}},
        {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": ["NaN"]}]},
    ]
    for i, body in enumerate(v2_json):
        put("v2_infer", f"json-{i}", b"\0" + json.dumps(body).encode())
    head = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32",
                                   "parameters": {"binary_data_size": 8}}]}).encode()
    tail = np.array([1.5, -2.0], dtype="<f4").tobytes()
    put("v2_infer", "binary-0", b"\1" + len(head).to_bytes(2, "little") + head + tail)
    head = json.dumps({"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": 11}}]}).encode()
    tail = (2).to_bytes(4, "little") + b"ab" + (1).to_bytes(4, "little") + b"c"
    put("v2_infer", "binary-1", b"\1" + len(head).to_bytes(2, "little") + head + tail)
    mlmodels = [
        "flavors:\n  python_function: {data: model.ubj}\n  xgboost: {data: model.ubj, model_format: ubj}\n",
        "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.lightgbm\n  lightgbm:\n"
        "    data: model.lgb\n    model_class: lightgbm.basic.Booster\nmlflow_version: 2.22.0\nsignature:\n"
        "  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 4]}}]'\n",
        "flavors:\n  onnx: {data: model.onnx, onnx_version: 1.17.0}\nmodel_uuid: abc\n",
        "flavors:\n  sklearn: {pickled_model: model.pkl}\n",
        "a: &x [1, 2]\nb: *x\nflavors: {}\n",
    ]
    for i, m in enumerate(mlmodels):
        put("mlmodel", str(i), m)


def main():
    import tempfile

    text_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        xgboost_models(Path(tmp))
        lightgbm_models(Path(tmp))
    onnx_models()


if __name__ == "__main__":
    main()
