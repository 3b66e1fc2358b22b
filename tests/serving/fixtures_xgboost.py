"""XGBoost fixtures: boosters and scikit-learn estimators trained on synthetic
data, saved with mlflow.xgboost as the real client does (model.ubj by
default, model.json when asked), with what xgboost.Booster.predict(DMatrix)
returns for a few rows.

Usage: fixtures_xgboost.py OUT  (writes OUT/xgboost-<case>/model/ and case.json)

case.json: {"input": "input", "rows": [[..]], "expected": {"predict": [..], "label": [..]}, "rtol": 1e-5}
- rows are float32-representable (flotilla's input is FP32) and NaN is written
  as null (JSON has no NaN);
- "predict" is Booster.predict(DMatrix(rows)).tolist(): [rows] or [rows][outputs];
- "label" (binary:logistic: p > 0.5, multi:softprob: argmax) only for those two.
A case with "error" instead of "expected" is a model flotilla must refuse at
load time with that error kind; "error_contains" is a fragment of the message.
"""

import json
import shutil
import sys
from pathlib import Path

import mlflow.xgboost
import numpy as np
import xgboost as xgb

SEED = 0
ROWS = 40


def f32(x):
    """Rounds to float32 and back, so FP32 and FP64 inputs mean the same."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def data(n=1000, features=8, seed=SEED, missing=0.0):
    rng = np.random.default_rng(seed)
    x = f32(rng.normal(size=(n, features)))
    signal = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - 0.5 * x[:, 4]
    y = signal + 0.1 * rng.normal(size=n)
    if missing:
        x[rng.random(size=x.shape) < missing] = np.nan
    return x, y


def rows_json(rows):
    return [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(rows, dtype=np.float64)]


def save(model, path, model_format="ubj"):
    # Fixed requirements skip mlflow's requirement inference (a subprocess that
    # reloads the model, seconds per case); the model files are the same.
    requirements = [f"xgboost=={xgb.__version__}"]
    mlflow.xgboost.save_model(model, str(path), model_format=model_format, pip_requirements=requirements)


def booster_of(model):
    return model.get_booster() if hasattr(model, "get_booster") else model


def write_case(out, name, model, rows, model_format="ubj", dmatrix_kw=None):
    case_dir = out / f"xgboost-{name}"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    save(model, case_dir / "model", model_format)
    booster = booster_of(model)
    predicted = booster.predict(xgb.DMatrix(rows, **(dmatrix_kw or {})))
    expected = {"predict": predicted.tolist()}
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    if objective == "binary:logistic":
        expected["label"] = (predicted > 0.5).astype(np.int64).tolist()
    elif objective == "multi:softprob":
        expected["label"] = predicted.argmax(axis=1).tolist()
    case = {"input": "input", "rows": rows_json(rows), "expected": expected, "rtol": 1e-5}
    (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  xgboost-{name}: {objective}, {booster.num_boosted_rounds()} rounds, {model_format}, {len(rows)} rows")


def write_refusal(out, name, model, error, fragment):
    case_dir = out / f"xgboost-{name}"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    save(model, case_dir / "model")
    case = {"input": "input", "error": error, "error_contains": fragment}
    (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  xgboost-{name}: must be refused ({error})")


def train(params, x, y, rounds, **kw):
    base = {"seed": SEED, "nthread": 1, "max_depth": 6, "eta": 0.1}
    return xgb.train({**base, **params}, xgb.DMatrix(x, y, **kw), num_boost_round=rounds)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/test-output/fixtures")
    out.mkdir(parents=True, exist_ok=True)
    x, y = data()
    rows = x[-ROWS:]
    xt, yt = x[:-ROWS], y[:-ROWS]
    binary = (yt > np.median(yt)).astype(np.int64)
    classes = np.digitize(yt, np.quantile(yt, [1 / 3, 2 / 3]))
    positive = np.exp(yt / 2)

    # The two 100-tree models the brief asks about, in both encodings.
    regression = train({"objective": "reg:squarederror"}, xt, yt, 100)
    write_case(out, "regression-ubj", regression, rows)
    write_case(out, "regression-json", regression, rows, model_format="json")
    classifier = xgb.XGBClassifier(n_estimators=100, max_depth=4, random_state=SEED, n_jobs=1)
    classifier.fit(xt, binary)
    write_case(out, "classifier-sklearn-ubj", classifier, rows)
    write_case(out, "classifier-sklearn-json", classifier, rows, model_format="json")

    softprob = train({"objective": "multi:softprob", "num_class": 3, "max_depth": 4}, xt, classes, 30)
    write_case(out, "softprob-ubj", softprob, rows)
    write_case(out, "softprob-json", softprob, rows, model_format="json")
    multiclass = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=SEED, n_jobs=1)
    multiclass.fit(xt, classes)
    write_case(out, "multiclass-sklearn", multiclass, rows)
    softmax = train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3}, xt, classes, 20)
    write_case(out, "softmax", softmax, rows)

    # Missing values in training (learned default directions) and at prediction.
    xm, ym = data(seed=1, missing=0.2)
    missing = train({"objective": "reg:squarederror"}, xm[:-ROWS], ym[:-ROWS], 50)
    write_case(out, "missing-ubj", missing, xm[-ROWS:])
    write_case(out, "missing-json", missing, xm[-ROWS:], model_format="json")
    missing_binary = train({"objective": "binary:logistic"}, xm[:-ROWS], (ym[:-ROWS] > 0.5).astype(int), 50)
    write_case(out, "missing-binary", missing_binary, xm[-ROWS:])

    # One small model per other objective: each has its own base_score link.
    for objective, target, extra in [
        ("reg:logistic", (yt > np.median(yt)).astype(float), {}),
        ("binary:logitraw", binary, {}),
        ("binary:hinge", binary, {}),
        ("reg:absoluteerror", yt, {}),
        ("reg:pseudohubererror", yt, {}),
        ("reg:quantileerror", yt, {"quantile_alpha": 0.8}),
        ("count:poisson", np.round(positive), {}),
        ("reg:gamma", positive, {}),
        ("reg:tweedie", positive, {"tweedie_variance_power": 1.3}),
        ("survival:cox", positive, {}),
    ]:
        model = train({"objective": objective, "max_depth": 3, **extra}, xt, target, 20)
        write_case(out, objective.replace(":", "-"), model, rows)
    ranker = xgb.train(
        {"objective": "rank:ndcg", "max_depth": 3, "seed": SEED, "nthread": 1},
        xgb.DMatrix(xt, classes, group=[len(xt) // 8] * 7 + [len(xt) - 7 * (len(xt) // 8)]),
        num_boost_round=20,
    )
    write_case(out, "rank-ndcg", ranker, rows)

    # Boosters beyond one tree per round.
    dart = train({"booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0, "max_depth": 3}, xt, yt, 30)
    write_case(out, "dart", dart, rows)
    forest = train({"num_parallel_tree": 4, "subsample": 0.8, "colsample_bynode": 0.8, "max_depth": 4}, xt, yt, 5)
    write_case(out, "random-forest", forest, rows)
    targets = np.stack([yt, -2 * yt + 1], axis=1)
    multi_target = train({"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 3}, xt, targets, 20)
    write_case(out, "multi-target", multi_target, rows)

    # Categorical splits: feature 1 holds category codes 0..9.
    rng = np.random.default_rng(2)
    xc = x.copy()
    xc[:, 1] = rng.integers(0, 10, size=len(xc))
    yc = y + np.where(np.isin(xc[:, 1], [1, 4, 7]), 2.0, 0.0)
    rows_c = xc[-ROWS:].copy()
    rows_c[:4, 1] = [12.0, np.nan, -1.0, 3.0]  # unseen, missing, invalid, seen
    kinds = {"feature_types": ["q", "c"] + ["q"] * 6, "enable_categorical": True}
    for name, onehot in [("categorical", 1), ("categorical-onehot", 16)]:
        params = {"tree_method": "hist", "max_cat_to_onehot": onehot, "max_depth": 4}
        model = train(params, xc[:-ROWS], yc[:-ROWS], 30, **kinds)
        write_case(out, name, model, rows_c, dmatrix_kw=kinds)

    # Models flotilla cannot run natively must be refused with a clear reason.
    linear = xgb.train({"booster": "gblinear", "seed": SEED, "nthread": 1}, xgb.DMatrix(xt, yt), num_boost_round=5)
    write_refusal(out, "gblinear", linear, "Unsupported", "gblinear")
    vector_leaf = train({"tree_method": "hist", "multi_strategy": "multi_output_tree", "max_depth": 3}, xt, targets, 5)
    write_refusal(out, "multi-output-tree", vector_leaf, "Unsupported", "multi_output_tree")


if __name__ == "__main__":
    main()
