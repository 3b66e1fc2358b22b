"""Fleet benchmark: flotilla's registry at a million models against MLflow
3.17.2 at the size it reaches in a few minutes, same queries side by side.

Run through scripts/bench-fleet.sh. Steps:
1. `flotilla fleet generate` fills a fresh data dir (--models x --versions);
   generation time and database bytes per version.
2. Start `flotilla server` on it: spawn to /health.
3. Ten representative fleet searches and the facet counts, each repeated
   (--reps), single client: p50 and p99. The MLflow API's
   search_registered_models first page on the same store.
4. A bulk promotion over --promote-models models (one family restricted to
   a region subset is not enough, so a dedicated family of that size is
   generated), dry run and applied, timed.
5. MLflow 3.17.2 (sqlite backend) filled with --mlflow-models models through
   its REST API for at most --mlflow-seconds, then the queries MLflow can
   answer (first page, name prefix, substring, tag, order by update), against
   flotilla's same queries: ratios.
"""

import argparse
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402


def log(msg):
    print(f"bench-fleet: {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection; returns (status, body, seconds)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            payload = r.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            raise
        return r.status, payload, time.perf_counter() - started


def pct(values, p):
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def timed_queries(client, queries, reps):
    """{label: (p50, p99, status, detail)} for each (label, path)."""
    out = {}
    for label, path in queries:
        times, status, detail = [], None, ""
        for _ in range(reps):
            status, body, t = client.call("GET", path)
            times.append(t)
        if status != 200:
            detail = body[:200].decode(errors="replace")
        else:
            parsed = json.loads(body)
            n = len(parsed.get("models") or parsed.get("versions") or parsed.get("registered_models") or [])
            detail = f"{n} rows" if "total" not in parsed else f"total {parsed['total']:,}"
        out[label] = (statistics.median(times), pct(times, 99), status, detail)
    return out


FLEET_QUERIES = [
    ("first page, by name", "/api/fleet/v1/models?max_results=50"),
    ("family, by name", "/api/fleet/v1/models?family=churn&max_results=50"),
    ("name prefix", "/api/fleet/v1/models?prefix=pricing.store%3Ds00042&max_results=50"),
    ("name substring (rare)", "/api/fleet/v1/models?contains=s004242&max_results=50"),
    ("name substring (common)", "/api/fleet/v1/models?contains=store&max_results=50"),
    ("partition (one region)", "/api/fleet/v1/models?family=eta&partition=region%3Dr007&max_results=50"),
    ("tag owner=ana + tier=gold", "/api/fleet/v1/models?tag=owner%3Dana&tag=tier%3Dgold&max_results=50"),
    ("has challenger alias", "/api/fleet/v1/models?alias=challenger&max_results=50"),
    ("champion val_rmse < 1.0, by metric", "/api/fleet/v1/models?metric=champion%3Aval_rmse%3C1.0&order_by=champion%3Aval_rmse&max_results=50"),
    ("updated, newest first", "/api/fleet/v1/models?order_by=-updated&max_results=50"),
    ("second page of a family", None),
]
VERSION_QUERIES = [
    ("versions: family, val_rmse < 2.0, by metric",
     "/api/fleet/v1/versions?family=fraud&metric=val_rmse%3C2.0&order_by=metric%3Aval_rmse&max_results=50"),
    ("versions: one region, newest first", "/api/fleet/v1/versions?family=eta&partition=region%3Dr007&order_by=-created&max_results=50"),
    ("versions: champions of tier=gold, by model", "/api/fleet/v1/versions?alias=champion&tag=tier%3Dgold&max_results=50"),
    ("versions: all, newest first", "/api/fleet/v1/versions?order_by=-created&max_results=50"),
    ("versions: val_rmse < 2.0, newest first", "/api/fleet/v1/versions?metric=val_rmse%3C2.0&order_by=-created&max_results=50"),
    ("versions: a family by val_rmse", "/api/fleet/v1/versions?family=fraud&order_by=metric%3Aval_rmse&max_results=50"),
]
FACET_QUERIES = [
    ("facets: whole fleet", "/api/fleet/v1/facets?facet_tag=owner&facet_tag=tier"),
    ("facets: one family", "/api/fleet/v1/facets?family=churn&facet_tag=owner"),
    ("facets: one region", "/api/fleet/v1/facets?family=eta&partition=region%3Dr007&facet_tag=tier"),
]
MLFLOW_FIRST_PAGE = "/api/2.0/mlflow/registered-models/search?max_results=100"


def generate(bin_path, data_dir, models, versions, families, extra=()):
    started = time.monotonic()
    out = subprocess.run(
        [str(bin_path), "fleet", "--data-dir", str(data_dir), "--json", "generate", "--models", str(models),
         "--versions", str(versions), "--families", str(families), *extra],
        check=True, capture_output=True, text=True,
    )
    report = json.loads(out.stdout)
    report["wall_seconds"] = time.monotonic() - started
    return report


def run_flotilla(args, work, lines):
    data = work / "flotilla"
    log(f"generating {args.models:,} models x {args.versions} versions")
    gen = generate(args.flotilla_bin, data, args.models, args.versions, 8)
    lines.append(f"| generate {gen['models']:,} models, {gen['versions']:,} versions (`flotilla fleet generate`) | "
                 f"{gen['metadata_seconds']:.1f} s = **{gen['versions_per_second']:,.0f} versions/s** |")
    lines.append(f"| database size | {gen['database_bytes'] / 2**20:,.0f} MiB = **{gen['database_bytes_per_version']:,.0f} bytes per version** |")
    with flotilla_server.spawn_flotilla(args.flotilla_bin, data, log_path=work / "flotilla.log") as server:
        healthy = server.wait_ready("/health", 60)
        port = server.port
        lines.append(f"| start → `/health` at {gen['models']:,} models | **{ms(healthy)}** |")
        client = Client(port)
        # Warm the page cache once, as a running server would be.
        for _, path in FLEET_QUERIES + VERSION_QUERIES + FACET_QUERIES:
            if path:
                client.call("GET", path)
        status, body, _ = client.call("GET", "/api/fleet/v1/models?family=churn&max_results=50")
        token = json.loads(body).get("next_page_token") or ""
        queries = [(l, p or f"/api/fleet/v1/models?family=churn&max_results=50&page_token={token}") for l, p in FLEET_QUERIES]
        results = timed_queries(client, queries + VERSION_QUERIES + FACET_QUERIES + [("MLflow API search_registered_models first page", MLFLOW_FIRST_PAGE)], args.reps)
        lines.append("")
        lines.append(f"| query (single client, {args.reps} runs each) | p50 | p99 | answer |")
        lines.append("|---|---|---|---|")
        for label, (p50, p99, status, detail) in results.items():
            lines.append(f"| {label} | {ms(p50)} | {ms(p99)} | {status}: {detail} |")
        lines.append("")
        # Bulk promotion over a family of --promote-models members.
        log("promotion")
        rule = {"family": "demand-forecast", "metric": "val_rmse", "factor": 0.98}
        _, body, t_dry = client.call("POST", "/api/fleet/v1/promotions", {"rule": rule, "dry_run": True})
        report = json.loads(body)["report"]
        _, body, t_apply = client.call("POST", "/api/fleet/v1/promotions", {"rule": rule, "reason": "bench"})
        applied = json.loads(body)["report"]
        _, body, t_back = client.call("POST", f"/api/fleet/v1/batches/{applied['batch_id']}/rollback", {"reason": "bench"})
        lines.append("| bulk promotion (family demand-forecast) | value |")
        lines.append("|---|---|")
        lines.append(f"| members examined | {report['examined']:,} |")
        lines.append(f"| dry run (plan, {len(report['moves']):,} moves listed) | {t_dry:.2f} s |")
        lines.append(f"| applied ({len(applied['moves']):,} aliases moved, audit logged) | **{t_apply:.2f} s** |")
        lines.append(f"| rolled back | {t_back:.2f} s |")
        return results


def run_mlflow(args, work, flotilla_results, lines):
    venv = ROOT / ".venvs" / "mlflow-server"
    mlflow = venv / "bin" / "mlflow"
    if not mlflow.exists():
        lines.append(f"\nMLflow server venv missing at {venv}: run scripts/bench.sh once to make it; MLflow side skipped.")
        return
    port = flotilla_server.free_port()
    store = work / "mlflow"
    store.mkdir()
    log("starting MLflow")
    args_ = [mlflow, "server", "--host", "127.0.0.1", "--port", port,
             "--backend-store-uri", f"sqlite:///{store}/mlflow.db", "--artifacts-destination", store / "artifacts",
             "--workers", "1"]
    with flotilla_server.Server("mlflow", args_, work / "mlflow.log", port=port) as server:
        server.wait_ready("/health", 300)
        deadline = time.monotonic() + args.mlflow_seconds
        created = [0]
        lock = threading.Lock()

        def worker(offset):
            c = Client(port)
            i = offset
            while time.monotonic() < deadline and i < args.mlflow_models:
                region = f"r{(i // 8) % 50:03d}"
                name = f"pricing.store=s{i:07d}"
                owner = ["ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun"][i % 10]
                c.call("POST", "/api/2.0/mlflow/registered-models/create",
                       {"name": name, "tags": [{"key": "owner", "value": owner}, {"key": "tier", "value": ["gold", "silver", "bronze"][i % 3]},
                                               {"key": "region", "value": region}]})
                with lock:
                    created[0] += 1
                i += args.clients
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        log(f"MLflow: {created[0]:,} models in {time.monotonic() - started:.0f} s")
        client = Client(port)
        def search(**params):
            return "/api/2.0/mlflow/registered-models/search?" + urllib.parse.urlencode(params)

        mlflow_queries = [
            ("first page, by name", search(max_results=50, order_by="name ASC")),
            ("name prefix", search(max_results=50, filter="name LIKE 'pricing.store=s00042%'")),
            ("name substring (rare)", search(max_results=50, filter="name ILIKE '%s004242%'")),
            ("tag owner=ana + tier=gold", search(max_results=50, filter="tags.owner = 'ana' AND tags.tier = 'gold'")),
            ("updated, newest first", search(max_results=50, order_by="last_updated_timestamp DESC")),
            ("MLflow API search_registered_models first page", MLFLOW_FIRST_PAGE),
        ]
        for _, path in mlflow_queries:
            client.call("GET", path)
        results = timed_queries(client, mlflow_queries, args.reps)
        lines.append("")
        lines.append(f"## The same queries: flotilla at {args.models:,} models vs MLflow 3.17.2 at {created[0]:,} models")
        lines.append("")
        lines.append("| query | flotilla p50 | flotilla p99 | MLflow p50 | MLflow p99 | p50 ratio | p99 ratio |")
        lines.append("|---|---|---|---|---|---|---|")
        for label, (m50, m99, status, detail) in results.items():
            f50, f99, _, _ = flotilla_results[label]
            bad = "" if status == 200 else f" (MLflow answered {status}: {detail})"
            lines.append(f"| {label}{bad} | {ms(f50)} | {ms(f99)} | {ms(m50)} | {ms(m99)} | **{m50 / f50:.1f}×** | {m99 / f99:.1f}× |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla-bin", default=os.environ.get("FLOTILLA_BIN", str(ROOT / "target/release/flotilla")))
    ap.add_argument("--models", type=int, default=1_000_000)
    ap.add_argument("--versions", type=int, default=3)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--mlflow-models", type=int, default=10_000)
    ap.add_argument("--mlflow-seconds", type=int, default=180)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    lines = [f"## Fleet registry at {args.models:,} models × {args.versions} versions (SQLite)", "",
             f"2 shared cores; load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.", "",
             "| measure | value |", "|---|---|"]
    try:
        results = run_flotilla(args, work, lines)
        if not args.skip_mlflow:
            run_mlflow(args, work, results, lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines.append("")
    lines.append(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
