"""The whylogs side of `flotilla-bench profile` (run with the bench-profile venv).

Generates the benchmark frame (ROWS x 20: 15 numeric, 5 categorical; seeded), writes it as
Parquet (snappy) to PATH, times whylogs' `why.log(df)` on the in-memory frame (the Parquet read
is not counted against it), and prints one JSON line: whylogs' time, its serialized profile's
bytes, and its KLL quantiles at RANKS for each numeric column.

Usage: python profile_bench.py PATH ROWS
"""

import json
import sys
import time

import numpy as np
import pandas as pd

RANKS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(14)
    cols = {}
    for i in range(5):
        cols[f"normal_{i}"] = rng.normal(loc=10.0 * i, scale=1.0 + i, size=rows)
    for i in range(3):
        cols[f"lognormal_{i}"] = rng.lognormal(mean=i, sigma=1.0, size=rows)
    for i in range(2):
        cols[f"uniform_{i}"] = rng.uniform(-1000.0 * (i + 1), 1000.0 * (i + 1), size=rows)
    for i in range(2):
        cols[f"exponential_{i}"] = rng.exponential(scale=5.0 * (i + 1), size=rows)
    for i in range(2):
        cols[f"count_{i}"] = rng.poisson(lam=3.0 + 40.0 * i, size=rows).astype(np.int64)
    with_nan = rng.normal(size=rows)
    with_nan[rng.random(rows) < 0.05] = np.nan
    cols["sparse_0"] = with_nan
    for i, card in enumerate([5, 50, 500, 5_000, 50_000]):
        vocab = np.array([f"cat{i}_{k}" for k in range(card)], dtype=object)
        idx = (rng.zipf(1.3, size=rows) - 1) % card
        cols[f"category_{i}"] = vocab[idx]
    return pd.DataFrame(cols)


def main() -> None:
    path, rows = sys.argv[1], int(sys.argv[2])
    t0 = time.perf_counter()
    df = frame(rows)
    df.to_parquet(path, engine="pyarrow", compression="snappy", index=False)
    generate_s = time.perf_counter() - t0

    import whylogs as why

    t0 = time.perf_counter()
    view = why.log(df).view()
    whylogs_s = time.perf_counter() - t0
    blob = view.serialize()

    quantiles = {}
    for name in df.columns:
        if df[name].dtype == object:
            continue
        kll = view.get_column(name).get_metric("distribution").kll.value
        quantiles[name] = [kll.get_quantile(r) for r in RANKS]
    print(
        json.dumps(
            {
                "rows": rows,
                "generate_s": generate_s,
                "whylogs_s": whylogs_s,
                "whylogs_bytes": len(blob),
                "ranks": RANKS,
                "whylogs_quantiles": quantiles,
            }
        )
    )


if __name__ == "__main__":
    main()
