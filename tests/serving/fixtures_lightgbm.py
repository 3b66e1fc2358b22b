"""LightGBM fixtures: boosters trained on synthetic data, saved with
mlflow.lightgbm as the real client does (model.lgb, the text format), with
what lightgbm.Booster.predict returns for a few rows.

Usage: fixtures_lightgbm.py OUT  (writes OUT/lightgbm-<case>/model/ and case.json)

case.json: {"input": "input", "rows": [[..]], "expected": {"predict": [..], "label": [..]}, "rtol": 1e-5}
- rows are float32-representable (flotilla's input is FP32) and NaN is written
  as null (JSON has no NaN);
- "predict" is Booster.predict(rows).tolist(): [rows] or [rows][classes];
- "label" (binary: p > 0.5, multiclass: argmax) only for classifiers.
A case with "error" instead of "expected" is a model flotilla must refuse at
load time with that error kind; "error_contains" is a fragment of the message.
"""

import json
import shutil
import sys
from pathlib import Path

import lightgbm as lgb
import mlflow.lightgbm
import numpy as np
import pandas as pd

SEED = 0
# Given, so that mlflow does not start a Python process per model to infer
# them; MLmodel and model.lgb are written as without.
REQUIREMENTS = [f"lightgbm=={lgb.__version__}"]
BASE = {"seed": SEED, "deterministic": True, "num_threads": 1, "verbose": -1}


def f32(x):
    """Rounds to float32 and back, so FP32 and FP64 inputs mean the same."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def data(n=1000, features=8, seed=SEED):
    rng = np.random.default_rng(seed)
    x = f32(rng.normal(size=(n, features)))
    signal = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - 0.5 * x[:, 4]
    return x, signal + 0.1 * rng.normal(size=n)


def rows_json(rows):
    return [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(rows, dtype=np.float64)]


def missing_types(booster):
    """The set of (categorical, missing type) pairs the model's splits use."""
    found = set()
    for tree in booster.dump_model()["tree_info"]:
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" in node:
                found.add((node["decision_type"], node["missing_type"]))
                stack += [node["left_child"], node["right_child"]]
    return found


def write_case(out, name, booster, rows, predict_input=None, classifier=False):
    case_dir = out / name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    mlflow.lightgbm.save_model(booster, str(case_dir / "model"), pip_requirements=REQUIREMENTS)
    predicted = booster.predict(rows if predict_input is None else predict_input)
    expected = {"predict": predicted.tolist()}
    if classifier:
        labels = (predicted > 0.5).astype(np.int64) if predicted.ndim == 1 else predicted.argmax(axis=1)
        expected["label"] = labels.tolist()
    case = {"input": "input", "rows": rows_json(rows), "expected": expected, "rtol": 1e-5}
    (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  {name}: {booster.num_trees()} trees, {len(rows)} rows")


def train(params, x, y, rounds, **kw):
    return lgb.train({**BASE, **params}, lgb.Dataset(x, y, **kw), num_boost_round=rounds)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/test-output/fixtures")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    x, y = data()
    rows = x[:40].copy()

    reg = train({"objective": "regression"}, x, y, 100)
    write_case(out, "lightgbm-regression-100", reg, rows)

    binary = train({"objective": "binary"}, x, (y > np.median(y)).astype(int), 100)
    write_case(out, "lightgbm-binary-100", binary, rows, classifier=True)

    classes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    multi = train({"objective": "multiclass", "num_class": 3}, x, classes, 30)
    write_case(out, "lightgbm-multiclass-3", multi, rows, classifier=True)
    ova = train({"objective": "multiclassova", "num_class": 3}, x, classes, 20)
    write_case(out, "lightgbm-multiclassova-3", ova, rows, classifier=True)

    # Missing values: NaN in training (missing type NaN), zeros as missing
    # (missing type Zero), and use_missing=false (missing type None).
    x_nan = x.copy()
    x_nan[rng.random(x.shape) < 0.2] = np.nan
    x_zero = x.copy()
    x_zero[rng.random(x.shape) < 0.3] = 0.0
    probe = rows.copy()
    probe[rng.random(probe.shape) < 0.25] = np.nan
    probe[rng.random(probe.shape) < 0.2] = 0.0
    probe[0, :4] = [1e-36, -1e-36, 1e-30, -0.0]  # |x| <= 1e-35 reads as zero
    probe = f32(probe)
    nan_model = train({"objective": "regression"}, x_nan, y, 50)
    assert ("<=", "NaN") in missing_types(nan_model), missing_types(nan_model)
    write_case(out, "lightgbm-missing-nan", nan_model, probe)
    zero_model = train({"objective": "regression", "zero_as_missing": True}, x_zero, y, 50)
    assert ("<=", "Zero") in missing_types(zero_model), missing_types(zero_model)
    write_case(out, "lightgbm-zero-as-missing", zero_model, probe)
    none_model = train({"objective": "regression", "use_missing": False}, x_nan, y, 50)
    assert {m for _, m in missing_types(none_model)} == {"None"}, missing_types(none_model)
    write_case(out, "lightgbm-use-missing-false", none_model, probe)

    # A categorical feature with 40 levels (bitsets over two 32-bit words),
    # probed with unseen, negative, fractional and missing categories.
    xc = x.copy()
    xc[:, 0] = rng.integers(0, 40, size=len(xc))
    yc = y + np.where(xc[:, 0] % 3 == 0, 2.0, -1.0) + (xc[:, 0] > 33)
    cat_model = train({"objective": "regression", "min_data_per_group": 5, "cat_smooth": 1}, xc, yc, 50,
                      categorical_feature=[0])
    assert any(d == "==" for d, _ in missing_types(cat_model)), missing_types(cat_model)
    assert "cat_boundaries=0 2" in cat_model.model_to_string() or "cat_boundaries=0 1 3" in cat_model.model_to_string()
    cat_rows = xc[:40].copy()
    cat_rows[:12, 0] = [0, 1, 32, 33, 39, 40, 77, -1, np.nan, 2.5, -0.5, 1e10]
    write_case(out, "lightgbm-categorical", cat_model, cat_rows)

    # The same through pandas: a category column leaves a pandas_categorical
    # trailer; flotilla takes the category codes.
    df = pd.DataFrame(x[:, 1:4], columns=["a", "b", "c"])
    df["colour"] = pd.Categorical(np.array(["red", "green", "blue", "grey"])[rng.integers(0, 4, size=len(df))])
    yp = y + (df["colour"] == "red") * 3.0
    pd_model = train({"objective": "regression", "min_data_per_group": 5}, df, yp, 30)
    assert "pandas_categorical:[[" in pd_model.model_to_string()
    pd_rows = df.iloc[:30].copy()
    codes = pd_rows.assign(colour=pd_rows["colour"].cat.codes.astype(np.float64)).to_numpy(dtype=np.float64)
    write_case(out, "lightgbm-pandas-categorical", pd_model, codes, predict_input=pd_rows)

    # Objectives with an output transform, random-forest averaging, linear leaves.
    counts = rng.poisson(np.exp(0.3 * x[:, 0] + 0.2 * x[:, 1]))
    write_case(out, "lightgbm-poisson", train({"objective": "poisson"}, x, counts, 40), rows)
    prob = 1 / (1 + np.exp(-y))
    write_case(out, "lightgbm-cross-entropy", train({"objective": "cross_entropy"}, x, prob, 40), rows)
    write_case(out, "lightgbm-regression-sqrt", train({"objective": "regression", "reg_sqrt": True}, x, y * 10, 40),
               rows)
    rf = train({"objective": "regression", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.7,
                "feature_fraction": 0.8}, x, y, 30)
    assert "average_output" in rf.model_to_string()
    write_case(out, "lightgbm-random-forest", rf, rows)
    linear = train({"objective": "regression", "linear_tree": True}, x, y, 30)
    assert "is_linear=1" in linear.model_to_string()
    write_case(out, "lightgbm-linear-tree", linear, probe)
    # The scikit-learn API (LGBMRegressor, LGBMClassifier, as mlflow.lightgbm saves them in each
    # serialization format) is in fixtures_sklearn.py.


if __name__ == "__main__":
    main()
