"""Generates the import benchmark's source: a SQLite MLflow store as an MLflow 3.17.2 server with
`--artifacts-destination` writes it, at scale 1 10,000 runs, 1,000,000 metric points, 1,000
registered models × 3 versions and 2,000 model directories of 1 MB (2 GB of artifacts).

MLflow itself makes the schema (its `SqlAlchemyStore` runs every migration on the empty file);
the rows are then bulk-inserted with `executemany` in the shapes MLflow writes them (read off a
run logged by the real client: '' for the unset source columns, NULL `deleted_time`, a
`latest_metrics` row per key, the `mlflow.runName`/`mlflow.user` tags, versions `READY` with
stage 'None' and their run's `mlflow-artifacts:` source). Artifacts are laid out as the
server's proxy writes them: `ROOT/<experiment>/<run>/artifacts/model/{MLmodel,model.bin}`.

Run in the MLflow server venv (it imports mlflow)::

    .venvs/mlflow-server/bin/python scripts/bench_import_source.py --out /tmp/src --scale 0.1

Writes OUT/mlflow.db, OUT/artifacts/ and OUT/counts.json (what it made), and nothing if
OUT/counts.json already says the same scale.
"""

import argparse
import json
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

T0 = 1_600_000_000_000
EXPERIMENTS = 10
PARAMS_PER_RUN = 5
METRIC_KEYS = ("loss", "accuracy")
ARTIFACT_BYTES = 1 << 20


def counts_for(scale):
    return {
        "runs": int(10_000 * scale),
        "metric_points": int(1_000_000 * scale),
        "registered_models": int(1_000 * scale),
        "versions_per_model": 3,
        "artifact_files": 2 * int(2_000 * scale),
        "artifact_bytes": int(2_000 * scale) * ARTIFACT_BYTES,
    }


def make_schema(db, artifacts):
    """MLflow's own migrations on an empty file (and the Default experiment it creates)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    RegistryStore(f"sqlite:///{db}")


def run_rows(n):
    for i in range(n):
        exp = 1 + i % EXPERIMENTS
        run = uuid.UUID(int=i + 1, version=4).hex
        yield run, exp, i


def fill(db, counts):
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    cur = con.cursor()
    cur.executemany(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)"
        " VALUES (?, ?, ?, 'active', ?, ?)",
        [(e, f"bench-{e}", f"mlflow-artifacts:/{e}", T0 + e, T0 + e) for e in range(1, EXPERIMENTS + 1)],
    )
    cur.executemany(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
        [("team", f"team-{e % 3}", e) for e in range(1, EXPERIMENTS + 1)],
    )
    runs = list(run_rows(counts["runs"]))
    cur.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,"
        " end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)"
        " VALUES (?, ?, 'UNKNOWN', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?, NULL)",
        [(r, f"run-{i}", T0 + 1000 * i, T0 + 1000 * i + 900, f"mlflow-artifacts:/{e}/{r}/artifacts", e) for r, e, i in runs],
    )
    cur.executemany(
        "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
        [(k, v, r) for r, _, i in runs for k, v in (("mlflow.runName", f"run-{i}"), ("mlflow.user", "bench"), ("shard", str(i % 7)))],
    )
    cur.executemany(
        "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
        [(f"p{j}", str(i * j % 97), r) for r, _, i in runs for j in range(PARAMS_PER_RUN)],
    )
    per_key = max(1, counts["metric_points"] // (counts["runs"] * len(METRIC_KEYS)))

    def points():
        for r, _, i in runs:
            for key in METRIC_KEYS:
                for step in range(per_key):
                    yield key, 1.0 / (step + 1 + i % 11), T0 + 1000 * i + step, r, step, 0

    cur.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", points())
    last = per_key - 1
    cur.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
        [(key, 1.0 / (last + 1 + i % 11), T0 + 1000 * i + last, last, r) for r, _, i in runs for key in METRIC_KEYS],
    )
    with_model = runs[: counts["artifact_files"] // 2]
    models = [f"model-{m:05d}" for m in range(counts["registered_models"])]
    cur.executemany(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
        [(name, T0 + m, T0 + m, f"bench model {m}") for m, name in enumerate(models)],
    )
    cur.executemany(
        "INSERT INTO registered_model_tags (key, value, name) VALUES (?, ?, ?)", [("owner", "bench", name) for name in models]
    )
    versions = []
    for m, name in enumerate(models):
        for v in range(1, counts["versions_per_model"] + 1):
            run, exp, _ = with_model[(m * counts["versions_per_model"] + v) % len(with_model)]
            source = f"mlflow-artifacts:/{exp}/{run}/artifacts/model"
            versions.append((name, v, T0 + m * 10 + v, T0 + m * 10 + v, "", None, "None", source, run, "READY", None, "", source))
    cur.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage,"
        " source, run_id, status, status_message, run_link, storage_location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        versions,
    )
    cur.executemany(
        "INSERT INTO registered_model_aliases (alias, version, name) VALUES ('champion', ?, ?)",
        [(counts["versions_per_model"], name) for name in models],
    )
    con.commit()
    con.close()
    return with_model


def write_artifacts(root, with_model):
    """One 1 MB weights file and an MLmodel per model run, each file's bytes distinct."""
    block = os.urandom(ARTIFACT_BYTES)
    for n, (run, exp, _) in enumerate(with_model):
        d = Path(root) / str(exp) / run / "artifacts" / "model"
        d.mkdir(parents=True, exist_ok=True)
        (d / "MLmodel").write_text(f"artifact_path: model\nrun_id: {run}\nflavors:\n  bench: {{}}\n")
        head = n.to_bytes(8, "little")
        (d / "model.bin").write_bytes(head + block[len(head):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--scale", type=float, default=1.0, help="1 = the issue's target size")
    args = ap.parse_args()
    counts = counts_for(args.scale)
    stamp = args.out / "counts.json"
    if stamp.exists() and json.loads(stamp.read_text()) == counts:
        print(f"source: {args.out} already holds {counts}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    db, artifacts = args.out / "mlflow.db", args.out / "artifacts"
    for stale in (db, stamp):
        stale.unlink(missing_ok=True)
    shutil.rmtree(artifacts, ignore_errors=True)
    started = time.monotonic()
    make_schema(db, artifacts)
    with_model = fill(db, counts)
    print(f"source: rows in {time.monotonic() - started:.1f} s")
    write_artifacts(artifacts, with_model)
    stamp.write_text(json.dumps(counts))
    print(f"source: {counts} in {time.monotonic() - started:.1f} s at {args.out}")


if __name__ == "__main__":
    main()
