"""ONNX fixtures: scikit-learn models exported by skl2onnx and a hand-built
network, saved with mlflow.onnx as the real client does, with the outputs
onnxruntime computes for a few rows.

Usage: fixtures_onnx.py OUT  (writes OUT/onnx-<case>/model/ and case.json)

A case with "error" instead of "expected" is a model flotilla must refuse at
load time with that error kind; "error_contains" is a fragment of the message.
"""

import json
import shutil
import sys
from pathlib import Path

import mlflow.onnx
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.tree import DecisionTreeClassifier

SEED = 0

_make_attribute = helper.make_attribute


def _make_attribute_bools_as_ints(key, value, *args, **kwargs):
    # skl2onnx 1.20 passes tree attributes such as
    # nodes_missing_value_tracks_true as lists of bools, which onnx 1.23
    # refuses in an INTS attribute; ONNX stores them as 0/1 anyway.
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and isinstance(value[0], (bool, np.bool_)):
        value = [int(v) for v in value]
    return _make_attribute(key, value, *args, **kwargs)


helper.make_attribute = _make_attribute_bools_as_ints


def iris():
    x, y = load_iris(return_X_y=True)
    return x.astype(np.float32), y


def classification(classes=2):
    x, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=classes, random_state=SEED
    )
    return x.astype(np.float32), y


def regression():
    x, y = make_regression(n_samples=300, n_features=5, noise=0.1, random_state=SEED)
    return x.astype(np.float32), y.astype(np.float32)


def export(model, x, zipmap=True):
    options = None if zipmap else {id(model): {"zipmap": False}}
    if options and hasattr(model, "steps"):
        options = {id(model.steps[-1][1]): {"zipmap": False}}
    return to_onnx(model, x[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})


def hand_built():
    """A two-layer ReLU network built with onnx.helper: no torch needed."""
    rng = np.random.default_rng(SEED)
    w1 = rng.normal(size=(4, 8)).astype(np.float32)
    b1 = rng.normal(size=(8,)).astype(np.float32)
    w2 = rng.normal(size=(8, 3)).astype(np.float32)
    b2 = rng.normal(size=(3,)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h3"]),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"]),
        helper.make_node("Add", ["h4", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_ort(model, rows):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    outs = session.run(None, {input_name: rows})
    expected = {}
    for name, value in zip(names, outs):
        if isinstance(value, list) and value and isinstance(value[0], dict):
            # ZipMap's list of {class: probability}: flotilla drops ZipMap and
            # answers the probability tensor, columns in class order.
            keys = sorted(value[0])
            value = np.array([[d[k] for k in keys] for d in value], dtype=np.float32)
        expected[name] = np.asarray(value).tolist()
    return input_name, expected


def write_case(out, name, model, rows, error=None, error_contains=None):
    case_dir = out / name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    mlflow.onnx.save_model(model, str(case_dir / "model"))
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    input_name = model.graph.input[0].name
    case = {"input": input_name, "rows": rows.tolist(), "rtol": 1e-5}
    if error is None:
        input_name, case["expected"] = run_ort(model, rows)
        case["input"] = input_name
    else:
        case["error"] = error
        case["error_contains"] = error_contains
    (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  {name}: {', '.join(o.name for o in model.graph.output)}")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/test-output/fixtures")
    out.mkdir(parents=True, exist_ok=True)

    xi, yi = iris()
    iris_rows = xi[::10]  # 15 rows, all three classes
    xb, yb = classification(2)
    xr, yr = regression()

    lin = LinearRegression().fit(xr, yr)
    write_case(out, "onnx-linear-regression", export(lin, xr), xr[:16])

    logreg = LogisticRegression(max_iter=500, random_state=SEED).fit(xi, yi)
    write_case(out, "onnx-logreg-iris", export(logreg, xi, zipmap=False), iris_rows)
    write_case(out, "onnx-logreg-iris-zipmap", export(logreg, xi), iris_rows)

    binary = LogisticRegression(max_iter=500, random_state=SEED).fit(xb, yb)
    write_case(out, "onnx-logreg-binary", export(binary, xb, zipmap=False), xb[:16])
    write_case(out, "onnx-logreg-binary-zipmap", export(binary, xb), xb[:16])

    pipe = make_pipeline(Normalizer(), LogisticRegression(max_iter=500, random_state=SEED)).fit(xi, yi)
    write_case(out, "onnx-normalizer-logreg", export(pipe, xi, zipmap=False), iris_rows)

    mlp_c = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=800, random_state=SEED).fit(xi, yi)
    write_case(out, "onnx-mlp-classifier", export(mlp_c, xi, zipmap=False), iris_rows)
    write_case(out, "onnx-mlp-classifier-zipmap", export(mlp_c, xi), iris_rows)

    mlp_r = MLPRegressor(hidden_layer_sizes=(16,), max_iter=800, random_state=SEED).fit(xr, yr)
    write_case(out, "onnx-mlp-regressor", export(mlp_r, xr), xr[:16])

    write_case(out, "onnx-hand-built-relu", hand_built(), xi[::10])

    # Tree ensembles (flotilla walks them natively; tract lacks the regressor).
    forest = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=SEED).fit(xr, yr)
    write_case(out, "onnx-rf-regressor", export(forest, xr), xr[:16])
    forest_c = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=SEED).fit(xi, yi)
    write_case(out, "onnx-rf-classifier-iris", export(forest_c, xi), iris_rows)
    forest_b = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=SEED).fit(xb, yb)
    write_case(out, "onnx-rf-classifier-binary", export(forest_b, xb, zipmap=False), xb[:16])
    boost_b = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=SEED).fit(xb, yb)
    write_case(out, "onnx-gb-classifier-binary", export(boost_b, xb, zipmap=False), xb[:16])
    boost_c = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=SEED).fit(xi, yi)
    write_case(out, "onnx-gb-classifier-iris", export(boost_c, xi), iris_rows)
    boost_r = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=SEED).fit(xr, yr)
    write_case(out, "onnx-gb-regressor", export(boost_r, xr), xr[:16])
    tree = DecisionTreeClassifier(max_depth=4, random_state=SEED).fit(xi, yi)
    write_case(out, "onnx-decision-tree", export(tree, xi, zipmap=False), iris_rows)

    # Models flotilla must refuse at load, naming what it cannot run.
    scaled = make_pipeline(StandardScaler(), LinearRegression()).fit(xr, yr)
    write_case(out, "onnx-unsupported-scaler", export(scaled, xr), xr[:4], "Unsupported", "ai.onnx.ml.Scaler")
    names = np.array(["setosa", "versicolor", "virginica"])[yi]
    labelled = LogisticRegression(max_iter=500, random_state=SEED).fit(xi, names)
    write_case(
        out, "onnx-unsupported-string-labels", export(labelled, xi, zipmap=False), xi[:4], "Unsupported", "string"
    )
    scaled_forest = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=3, random_state=SEED))
    scaled_forest.fit(xr, yr)
    write_case(
        out,
        "onnx-unsupported-scaler-forest",
        export(scaled_forest, xr),
        xr[:4],
        "Unsupported",
        "ai.onnx.ml.Scaler, ai.onnx.ml.TreeEnsembleRegressor",
    )


if __name__ == "__main__":
    main()
