"""The import benchmark: `flotilla import mlflow` from a generated SQLite MLflow store, and
mlflow-export-import side by side on the same source.

Steps (each flotilla measurement a fresh data directory, the median of --repeat runs):
1. the sources (scripts/bench_import_source.py, in the MLflow server venv): the target size
   (--scale, default 1: 10,000 runs, 1,000,000 metric points, 1,000 models × 3 versions, 2 GB)
   and a smaller one for the peer (--peer-scale, default 0.1);
2. the disk: `cp -r` of the artifact tree onto the destination's filesystem (what "at disk
   speed" means here);
3. flotilla, metadata alone: `--artifacts-from` an empty directory (the runs then have no
   files, the versions' sources none either); then flotilla, everything: the real artifact
   root. Wall time, peak RSS of the importer, metric points per second of the metadata pass;
4. the peer at --peer-scale: an MLflow 3.17.2 server on the source, `export-all` into a
   directory, a fresh MLflow server, `import-all` into it (REST, as the tool works); then how
   many run ids and versions arrived; flotilla once more on the same source for the ratio. The
   tool rewrites `mlflow-artifacts:` version sources wrongly (below), so the peer runs on a
   copy whose artifact URIs are plain local paths (what a server without `--serve-artifacts`
   writes), served by servers with `--default-artifact-root`: the same rows and files.

Writes WORK/results.json and prints a table with the machine's load before and after. Run with
the system python3 (standard library only); the venvs come from tests/import/setup.sh and
`.venvs/export-import` (made here: mlflow-export-import 1.2.0 with mlflow 3.17.2).

    python3 scripts/bench_import.py --bin target/release/flotilla --work /tmp/bench-import
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402

VENVS = ROOT / ".venvs"
SERVER_VENV = VENVS / "mlflow-server"
PEER_VENV = VENVS / "export-import"
PEER_PACKAGES = ["mlflow-export-import==1.2.0", "mlflow==3.17.2", "tabulate==0.9.0"]


def timed(args, env=None, cwd=None, log=None):
    """(seconds, peak RSS in MiB, exit status) of one process, its output to `log`."""
    with open(log or os.devnull, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen([str(a) for a in args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def generate(scale, work):
    out = work / f"source-{scale:g}"
    subprocess.run(
        [SERVER_VENV / "bin" / "python", ROOT / "scripts" / "bench_import_source.py", "--out", out, "--scale", str(scale)],
        check=True,
    )
    return out, json.loads((out / "counts.json").read_text())


def flotilla_import(bin_path, source, artifacts, work, name):
    data = work / "dest" / name
    shutil.rmtree(data.parent, ignore_errors=True)
    data.parent.mkdir(parents=True)
    log = work / f"{name}.log"
    args = [bin_path, "import", "mlflow", "--from", f"sqlite:///{source / 'mlflow.db'}", "--artifacts-from", artifacts,
            "--data-dir", data, "--report-json", work / f"{name}.report.json"]
    seconds, rss, status = timed(args, log=log)
    report_path = work / f"{name}.report.json"
    if status != 0 and artifacts != source / "artifacts" and metadata_complete(report_path):
        status = 0  # the metadata pass: only the (deliberately absent) artifacts are missing
    if status != 0:
        print(f"  {name}: exit {status}; the end of {log}:\n{log.read_text(errors='replace')[-1500:]}")
    return {"seconds": seconds, "rss_mib": rss, "exit": status}


def metadata_complete(report_path):
    """True when the import's JSON report has every entity kind in the destination and no
    conflict (what remains are the artifacts)."""
    if not report_path.exists():
        return False
    report = json.loads(report_path.read_text())
    kinds = report.get("kinds", {}).values()
    return bool(kinds) and not report.get("conflicts") and all(k["source"] == k["destination"] for k in kinds)


def median_of(runs, key="seconds"):
    return statistics.median(r[key] for r in runs)


def measure_flotilla(bin_path, source, counts, work, repeat):
    empty = work / "empty-artifacts"
    empty.mkdir(parents=True, exist_ok=True)
    meta = [flotilla_import(bin_path, source, empty, work, f"meta-{i}") for i in range(repeat)]
    full = [flotilla_import(bin_path, source, source / "artifacts", work, f"full-{i}") for i in range(repeat)]
    cp = []
    for _ in range(repeat):
        dst = work / "dest" / "cp"
        shutil.rmtree(dst, ignore_errors=True)
        cp.append(timed(["cp", "-r", source / "artifacts", dst])[0])
    shutil.rmtree(work / "dest", ignore_errors=True)
    m, f = median_of(meta), median_of(full)
    return {
        "metadata": {"median_s": m, "runs": meta, "points_per_s": counts["metric_points"] / m},
        "full": {"median_s": f, "runs": full, "max_rss_mib": max(r["rss_mib"] for r in full + meta)},
        "artifacts_s": f - m,
        "artifacts_mib_per_s": counts["artifact_bytes"] / 2**20 / max(f - m, 1e-9),
        "cp_median_s": statistics.median(cp),
        "cp_mib_per_s": counts["artifact_bytes"] / 2**20 / statistics.median(cp),
    }


def ensure_peer_venv():
    """The peer's venv; mlflow-export-import 1.2.0 imports `tabulate` without declaring it."""
    stamp = PEER_VENV / ".bench-stamp"
    if stamp.exists() and stamp.read_text() == "\n".join(PEER_PACKAGES):
        return
    shutil.rmtree(PEER_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", PEER_VENV], check=True)
    subprocess.run([PEER_VENV / "bin" / "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES], check=True)
    stamp.write_text("\n".join(PEER_PACKAGES))


def file_uri_copy(source, work):
    """The source with `mlflow-artifacts:/X` rewritten to a local path of the artifact root: a
    link named so that no "artifacts" comes before the run's own `/artifacts/` (the tool finds
    the model's path in a version's source by the first "artifacts" in it)."""
    copy = work / "peer-source"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    assert "artifacts" not in str(copy), f"the work directory {copy} must not contain 'artifacts'"
    root = str(copy / "files")
    (copy / "files").symlink_to((source / "artifacts").resolve())
    with sqlite3.connect(source / "mlflow.db") as src, sqlite3.connect(copy / "mlflow.db") as dst:
        src.backup(dst)
    with sqlite3.connect(copy / "mlflow.db") as db:
        for table, column in [("experiments", "artifact_location"), ("runs", "artifact_uri"),
                              ("model_versions", "source"), ("model_versions", "storage_location")]:
            db.execute(f"UPDATE {table} SET {column} = replace({column}, 'mlflow-artifacts:', ?)", (root,))
    return copy


def mlflow_server(db, artifact_root, log):
    port = flotilla_server.free_port()
    args = [SERVER_VENV / "bin" / "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
            "--default-artifact-root", artifact_root, "--no-serve-artifacts",
            "--host", "127.0.0.1", "--port", port, "--workers", "1"]
    server = flotilla_server.Server("mlflow", args, log, port=port)
    server.wait_ready("/health", 180)
    return server


def measure_peer(source, counts, work):
    ensure_peer_venv()
    peer = file_uri_copy(source, work)
    out = work / "peer"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    result = {}
    with mlflow_server(peer / "mlflow.db", peer / "files", out / "source-server.log") as src:
        env = dict(os.environ, MLFLOW_TRACKING_URI=src.url)
        seconds, rss, status = timed([PEER_VENV / "bin" / "export-all", "--output-dir", out / "export"], env=env, cwd=out,
                                     log=out / "export.log")
        result["export"] = {"seconds": seconds, "rss_mib": rss, "exit": status}
    dst_root = out / "dst-files"
    with mlflow_server(out / "dst.db", dst_root, out / "dest-server.log") as dst:
        env = dict(os.environ, MLFLOW_TRACKING_URI=dst.url)
        seconds, rss, status = timed([PEER_VENV / "bin" / "import-all", "--input-dir", out / "export"], env=env, cwd=out,
                                     log=out / "import.log")
        result["import"] = {"seconds": seconds, "rss_mib": rss, "exit": status}
    result["total_s"] = result["export"]["seconds"] + result["import"]["seconds"]
    with sqlite3.connect(out / "dst.db") as got, sqlite3.connect(source / "mlflow.db") as want:
        src_ids = {r for (r,) in want.execute("SELECT run_uuid FROM runs")}
        dst_ids = {r for (r,) in got.execute("SELECT run_uuid FROM runs")}
        result["runs_arrived"] = len(dst_ids)
        result["run_ids_kept"] = len(src_ids & dst_ids)
        result["metric_points_arrived"] = got.execute("SELECT count(*) FROM metrics").fetchone()[0]
        result["versions_arrived"] = got.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    return result


def load():
    return [round(x, 2) for x in os.getloadavg()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "flotilla"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/flotilla-bench-import"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--peer-scale", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parts", default="flotilla,peer",
                    help="flotilla (the target size and the side-by-side size), peer (mlflow-export-import); "
                         "each writes WORK/results-<part>.json, the table reads both")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    if "flotilla" in parts:
        r = {"load_before": load(), "bin": args.bin}
        source, counts = generate(args.scale, args.work)
        print(f"flotilla at scale {args.scale:g}: {counts}")
        r.update(scale=args.scale, counts=counts, **measure_flotilla(args.bin, source, counts, args.work / "flotilla", args.repeat))
        peer_source, peer_counts = generate(args.peer_scale, args.work)
        same = [flotilla_import(args.bin, peer_source, peer_source / "artifacts", args.work / "flotilla", f"peer-scale-{i}")
                for i in range(args.repeat)]
        r["side_by_side"] = {"scale": args.peer_scale, "counts": peer_counts, "median_s": median_of(same), "runs": same}
        r["load_after"] = load()
        (args.work / "results-flotilla.json").write_text(json.dumps(r, indent=1))
    if "peer" in parts:
        r = {"load_before": load()}
        peer_source, peer_counts = generate(args.peer_scale, args.work)
        r.update(scale=args.peer_scale, counts=peer_counts, **measure_peer(peer_source, peer_counts, args.work))
        r["load_after"] = load()
        (args.work / "results-peer.json").write_text(json.dumps(r, indent=1))
    report(*(json.loads(p.read_text()) if p.exists() else None
             for p in (args.work / "results-flotilla.json", args.work / "results-peer.json")))


def report(f, p):
    if f:
        failed = [x for x in f["metadata"]["runs"] + f["full"]["runs"] if x["exit"] != 0]
        if failed:
            print(f"NOTE: {len(failed)} flotilla imports exited non-zero (see the logs): their times are not a result")
        print(f"flotilla at scale {f['scale']:g} {f['counts']}; load before {f['load_before']}, after {f['load_after']}")
        print(f"  metadata  {f['metadata']['median_s']:8.2f} s  {f['metadata']['points_per_s']:12,.0f} points/s")
        print(f"  full      {f['full']['median_s']:8.2f} s  peak RSS {f['full']['max_rss_mib']:.0f} MiB")
        print(f"  artifacts {f['artifacts_s']:8.2f} s  {f['artifacts_mib_per_s']:8.0f} MiB/s (cp -r: {f['cp_median_s']:.2f} s, "
              f"{f['cp_mib_per_s']:.0f} MiB/s)")
        print(f"  at scale {f['side_by_side']['scale']:g}: {f['side_by_side']['median_s']:.2f} s")
    if p:
        want_versions = p["counts"]["registered_models"] * p["counts"]["versions_per_model"]
        print(f"mlflow-export-import at scale {p['scale']:g}; load before {p['load_before']}, after {p['load_after']}")
        print(f"  {p['total_s']:.1f} s: export-all {p['export']['seconds']:.1f} s (exit {p['export']['exit']}), "
              f"import-all {p['import']['seconds']:.1f} s (exit {p['import']['exit']})")
        print(f"  brought {p['runs_arrived']}/{p['counts']['runs']} runs ({p['run_ids_kept']} ids kept), "
              f"{p['metric_points_arrived']}/{p['counts']['metric_points']} points, {p['versions_arrived']}/{want_versions} versions")
    if f and p and f["side_by_side"]["scale"] == p["scale"]:
        print(f"ratio at scale {p['scale']:g}: mlflow-export-import / flotilla = {p['total_s'] / f['side_by_side']['median_s']:.0f}×")


if __name__ == "__main__":
    main()
