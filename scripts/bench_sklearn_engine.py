"""flotilla's scikit-learn engine against scikit-learn's own `predict`, in
process, one thread, batches of 1, 100 and 10,000 rows: a 100-tree random
forest and a StandardScaler + LogisticRegression pipeline, both saved with
mlflow.sklearn (cloudpickle) and read by flotilla from that file.

Run (release build of the engine first):
  cargo build --release -p flotilla-infer --example engine_rows
  .venvs/serving/bin/python scripts/bench_sklearn_engine.py [--engine target/release/examples/engine_rows]
Prints a markdown table (rows/s, medians of 5 timed runs of at least 0.2 s each).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

BATCHES = (1, 100, 10_000)
ROOT = Path(__file__).resolve().parents[1]


def rows_per_s(predict, x, batch):
    chunks = [x[i : i + batch] for i in range(0, len(x) - batch + 1, batch)]
    rates = []
    for _ in range(5):
        start, rows, i = time.perf_counter(), 0, 0
        while time.perf_counter() - start < 0.2:
            predict(chunks[i % len(chunks)])
            rows += batch
            i += 1
        rates.append(rows / (time.perf_counter() - start))
    return sorted(rates)[2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default=str(ROOT / "target/release/examples/engine_rows"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    width = 10
    x_train = rng.normal(size=(5_000, width))
    y = (x_train[:, 0] + x_train[:, 1] * x_train[:, 2] > 0).astype(int)
    x = rng.normal(size=(10_000, width))
    models = {
        "random forest, 100 trees": RandomForestClassifier(100, n_jobs=1, random_state=0).fit(x_train, y),
        "scaler + logistic": make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y),
    }
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, one thread; rows/s (median of 5)\n")
    print("| model | batch | scikit-learn `predict` | flotilla engine (`predict` + `predict_proba`) | flotilla / scikit-learn |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.f64"
        rows_file.write_bytes(x.astype("<f8").tobytes())
        for name, model in models.items():
            model_dir = Path(tmp) / name.replace(" ", "_").replace(",", "")
            mlflow.sklearn.save_model(model, str(model_dir), serialization_format="cloudpickle",
                                      pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
            out = subprocess.run([args.engine, str(model_dir), str(rows_file), str(width), ",".join(map(str, BATCHES))],
                                 check=True, capture_output=True, text=True).stdout
            ours = {r["batch"]: r["rows_per_s"] for r in map(json.loads, out.splitlines())}
            with threadpool_limits(1):
                for batch in BATCHES:
                    theirs = rows_per_s(model.predict, x, batch)
                    print(f"| {name} | {batch:,} | {theirs:,.0f} | {ours[batch]:,.0f} | {ours[batch] / theirs:.1f}× |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
