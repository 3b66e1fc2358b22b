"""scikit-learn fixtures: estimators and pipelines trained on synthetic data,
saved with mlflow.sklearn (and LightGBM's scikit-learn API with
mlflow.lightgbm) in each serialization format, with what the estimator's own
predict and predict_proba return.

Usage: fixtures_sklearn.py OUT  (writes OUT/sklearn-<case>-<format>/model/ and case.json)

case.json: {"input": "input", "rows": [[..]], "expected": {"predict": [..], "predict_proba": [[..]]}, "rtol": 1e-6}
- rows are float32-representable (tritonclient may send FP32), NaN as null;
- "predict" is estimator.predict(rows).tolist() (class labels for classifiers),
  "predict_proba" only for classifiers that have it.
Error cases ("error", "error_contains") are hostile pickles flotilla must refuse
without running them: each would create the file named by "marker" if it ran.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import mlflow.lightgbm
import mlflow.sklearn
import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

SEED = 0
# Given, so that mlflow does not start a Python process per model to infer them.
REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}"]
FORMATS = ("cloudpickle", "pickle", "skops")
def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def rows_json(rows):
    return [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(rows, dtype=np.float64)]


def data(n=600, features=6, seed=SEED):
    rng = np.random.default_rng(seed)
    x = f32(rng.normal(size=(n, features)))
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - 0.5 * x[:, 4]
    return x, y + 0.1 * rng.normal(size=n)


def fresh(out, name):
    case_dir = out / name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    return case_dir


def skops_trusted(model):
    """The types skops will not load unless named (scikit-learn's own `Tree`,
    loss objects...): these models are ours, so all of them."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def save(model, path, fmt):
    trusted = skops_trusted(model) if fmt == "skops" else None
    saver = mlflow.lightgbm if isinstance(model, (lgb.LGBMRegressor, lgb.LGBMClassifier)) else mlflow.sklearn
    saver.save_model(model, path, serialization_format=fmt, pip_requirements=REQUIREMENTS, skops_trusted_types=trusted)


def write_case(out, name, model, rows, formats=FORMATS):
    expected = {"predict": model.predict(rows).tolist()}
    if hasattr(model, "predict_proba"):
        try:
            expected["predict_proba"] = model.predict_proba(rows).tolist()
        except AttributeError:  # SGDClassifier(loss="hinge") has the method but not the probabilities
            pass
    for fmt in formats:
        case_dir = fresh(out, f"sklearn-{name}-{fmt}")
        save(model, str(case_dir / "model"), fmt)
        case = {"input": "input", "rows": rows_json(rows), "expected": expected, "rtol": 1e-6}
        (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  sklearn-{name}: {len(rows)} rows, {', '.join(formats)}")


class Hostile:
    """Unpickling this runs `os.system(command)` (never in flotilla)."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def write_hostile(out, name, payload, error_contains):
    """A model directory whose pickle would create `marker` if unpickled."""
    case_dir = fresh(out, f"sklearn-hostile-{name}")
    model_dir = case_dir / "model"
    model_dir.mkdir()
    marker = case_dir / "ran.marker"
    (model_dir / "model.pkl").write_bytes(pickle.dumps(payload(str(marker)), protocol=4))
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n"
        f"    sklearn_version: {sklearn.__version__}\n"
    )
    x = data(4)[0]
    case = {"input": "input", "rows": rows_json(x), "error": "Unsupported", "error_contains": error_contains,
            "marker": str(marker)}
    (case_dir / "case.json").write_text(json.dumps(case))
    print(f"  sklearn-hostile-{name}: must be refused ({error_contains})")


def hostile_cases(out):
    touch = f"touch {{}}"
    write_hostile(out, "os-system", lambda m: Hostile(os.system, touch.format(m)), "refuses global posix.system"
                  if os.name == "posix" else "refuses global nt.system")
    write_hostile(out, "eval", lambda m: Hostile(eval, f"open({m!r}, 'w')"), "refuses global builtins.eval")
    write_hostile(out, "popen", lambda m: Hostile(subprocess.Popen, ["touch", m]), "refuses global subprocess.Popen")
    x, y = data(50)

    def in_pipeline(m):
        pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
        pipe.steps.insert(1, ("evil", Hostile(os.system, touch.format(m))))
        return pipe

    write_hostile(out, "in-pipeline", in_pipeline, "refuses global posix.system")


def main():
    out = Path(sys.argv[1])
    x, y = data()
    rows = x[:40].copy()
    with_nan = rows.copy()
    with_nan[::5, 1] = np.nan
    label = (y > np.median(y)).astype(np.int64)
    three = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    words = np.array(["low", "mid", "high"])[three]

    write_case(out, "dtree-reg", DecisionTreeRegressor(max_depth=6, random_state=SEED).fit(x, y), rows)
    write_case(out, "dtree-clf", DecisionTreeClassifier(max_depth=5, random_state=SEED).fit(x, three), rows)
    write_case(out, "rf-reg", RandomForestRegressor(20, max_depth=8, random_state=SEED).fit(x, y), rows)
    write_case(out, "rf-clf", RandomForestClassifier(20, max_depth=8, random_state=SEED).fit(x, words), rows)
    write_case(out, "extratrees-reg", ExtraTreesRegressor(15, random_state=SEED).fit(x, y), rows, ("cloudpickle",))
    write_case(out, "extratrees-clf", ExtraTreesClassifier(15, random_state=SEED).fit(x, label), rows, ("cloudpickle",))
    x_nan = x.copy()
    x_nan[::7, 1] = np.nan
    write_case(out, "dtree-nan", DecisionTreeRegressor(max_depth=6, random_state=SEED).fit(x_nan, y), with_nan,
               ("cloudpickle",))

    write_case(out, "linreg", LinearRegression().fit(x, y), rows)
    write_case(out, "ridge", Ridge(alpha=0.5).fit(x, y), rows, ("cloudpickle",))
    write_case(out, "lasso", Lasso(alpha=0.01).fit(x, y), rows, ("cloudpickle",))
    write_case(out, "enet", ElasticNet(alpha=0.01, l1_ratio=0.3).fit(x, y), rows, ("cloudpickle",))
    write_case(out, "sgd-reg", SGDRegressor(random_state=SEED).fit(x, y), rows, ("cloudpickle",))
    write_case(out, "logreg-binary", LogisticRegression().fit(x, label), rows)
    write_case(out, "logreg-multi", LogisticRegression(max_iter=500).fit(x, words), rows)
    write_case(out, "sgd-clf-hinge", SGDClassifier(random_state=SEED).fit(x, three), rows, ("cloudpickle",))
    write_case(out, "sgd-clf-log", SGDClassifier(loss="log_loss", random_state=SEED).fit(x, three), rows,
               ("cloudpickle",))

    write_case(out, "pipe-scaler-logreg", make_pipeline(StandardScaler(), LogisticRegression()).fit(x, label), rows)
    write_case(out, "pipe-impute-minmax-ridge",
               make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler(clip=True), Ridge()).fit(x_nan, y),
               with_nan)
    cat = x.copy()
    cat[:, 4] = np.floor(np.abs(cat[:, 4]) * 2)  # 0..6
    cat[:, 5] = (np.arange(len(cat)) % 3).astype(float)
    cat_rows = cat[:40]
    columns = ColumnTransformer([
        ("scale", StandardScaler(), [0, 1]),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [5]),
        ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), [4]),
    ], remainder="passthrough")
    write_case(out, "pipe-columns-rf", Pipeline([("columns", columns), ("rf", RandomForestRegressor(
        10, max_depth=6, random_state=SEED))]).fit(cat, y), cat_rows)
    drop_first = ColumnTransformer([("onehot", OneHotEncoder(drop="first"), [5])], remainder=MinMaxScaler())
    write_case(out, "pipe-onehot-drop-logreg", make_pipeline(drop_first, LogisticRegression()).fit(cat, label),
               cat_rows, ("cloudpickle",))

    write_case(out, "gb-reg", GradientBoostingRegressor(n_estimators=30, random_state=SEED).fit(x, y), rows)
    write_case(out, "gb-clf-binary", GradientBoostingClassifier(n_estimators=20, random_state=SEED).fit(x, label),
               rows)
    write_case(out, "gb-clf-multi", GradientBoostingClassifier(n_estimators=15, random_state=SEED).fit(x, words),
               rows, ("cloudpickle",))
    write_case(out, "hgb-reg", HistGradientBoostingRegressor(max_iter=30, random_state=SEED).fit(x_nan, y), with_nan)
    write_case(out, "hgb-clf-binary",
               HistGradientBoostingClassifier(max_iter=20, random_state=SEED).fit(x_nan, label), with_nan)
    write_case(out, "hgb-clf-multi", HistGradientBoostingClassifier(max_iter=15, random_state=SEED).fit(x, three),
               rows, ("cloudpickle",))

    lgb_params = {"n_estimators": 20, "random_state": SEED, "verbose": -1, "n_jobs": 1}
    write_case(out, "lgbm-reg", lgb.LGBMRegressor(**lgb_params).fit(x, y), rows)
    write_case(out, "lgbm-clf-binary", lgb.LGBMClassifier(**lgb_params).fit(x, label), rows)
    write_case(out, "lgbm-clf-multi", lgb.LGBMClassifier(**lgb_params).fit(x, words), rows, ("cloudpickle",))

    hostile_cases(out)


if __name__ == "__main__":
    main()
