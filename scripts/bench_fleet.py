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


# --first-pages: every first page of the MLflow API and every metric-bound x sort-direction x
# scope combination of the fleet searches, each query drawn afresh (random digits, random
# existing names), so that no single lucky input is timed.
PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'"  # what mlflow 3.x's client appends


def first_page_cases(names):
    """[(label, make_path)]: make_path(rng) draws one query."""
    def search(endpoint, filter_, order_by, prompt, max_results):
        def make(rng):
            f = filter_(rng) if callable(filter_) else filter_
            if prompt:
                f = f"{f} AND {PROMPT_CLAUSE}" if f else PROMPT_CLAUSE
            params = [("max_results", max_results)]
            if f:
                params.append(("filter", f))
            if order_by:
                params.append(("order_by", order_by))
            return f"/api/2.0/mlflow/{endpoint}/search?" + urllib.parse.urlencode(params)
        return make

    def rm(filter_=None, order_by=None, prompt=True, max_results=100):
        return search("registered-models", filter_, order_by, prompt, max_results)

    def mv(filter_, prompt=False, max_results=10_000, order_by=None):
        return search("model-versions", filter_, order_by, prompt, max_results)

    digits = lambda rng: f"{rng.randrange(1000):03d}"
    name = lambda rng: rng.choice(names)
    prefix = lambda rng: name(rng)[:-3]  # a name without its last three digits: ~1000 names
    cases = [
        ("MLflow rm: 3.x first page (clause only)", rm()),
        ("MLflow rm: 2.x first page (no filter)", rm(prompt=False)),
        ("MLflow rm: name LIKE '%ddd%' + clause", rm(lambda r: f"name LIKE '%{digits(r)}%'")),
        ("MLflow rm: name LIKE '%ddd%'", rm(lambda r: f"name LIKE '%{digits(r)}%'", prompt=False)),
        ("MLflow rm: name ILIKE '%ddd%' + clause", rm(lambda r: f"name ILIKE '%{digits(r)}%'")),
        ("MLflow rm: name LIKE '%ddd%' DESC + clause", rm(lambda r: f"name LIKE '%{digits(r)}%'", "name DESC")),
        ("MLflow rm: name = 'x' + clause", rm(lambda r: f"name = '{name(r)}'")),
        ("MLflow rm: name LIKE 'prefix%' + clause", rm(lambda r: f"name LIKE '{prefix(r)}%'")),
        ("MLflow rm: name ILIKE 'prefix%' + clause", rm(lambda r: f"name ILIKE '{prefix(r)}%'")),
        ("MLflow rm: order name DESC + clause", rm(order_by="name DESC")),
        ("MLflow rm: order last_updated DESC + clause", rm(order_by="last_updated_timestamp DESC")),
        ("MLflow rm: order last_updated ASC + clause", rm(order_by="last_updated_timestamp ASC")),
        ("MLflow rm: order last_updated DESC (2.x)", rm(order_by="last_updated_timestamp DESC", prompt=False)),
        ("MLflow rm: order created DESC + clause", rm(order_by="creation_timestamp DESC")),
        ("MLflow rm: name ILIKE '%ddd%' by last_updated DESC + clause",
         rm(lambda r: f"name ILIKE '%{digits(r)}%'", "last_updated_timestamp DESC")),
        ("MLflow mv: first page (100)", mv(None, max_results=100)),
        ("MLflow mv: name = 'x'", mv(lambda r: f"name = '{name(r)}'")),
        ("MLflow mv: name = 'x' + clause", mv(lambda r: f"name = '{name(r)}'", prompt=True)),
        ("MLflow mv: run_id = '...'", mv(lambda r: f"run_id = '{rng_hex(r)}'")),
        ("MLflow mv: run_id = '...' + clause", mv(lambda r: f"run_id = '{rng_hex(r)}'", prompt=True)),
    ]
    fleet = "/api/fleet/v1/models?max_results=50"
    for page, base in (("API models", fleet), ("UI /models", "/models?")):
        for scope in ("", "family=demand-forecast"):
            for bound in ("<2.0", ">4.0"):
                for order in ("champion:val_rmse", "-champion:val_rmse"):
                    q = "&".join(x for x in (scope, f"metric=champion:val_rmse{urllib.parse.quote(bound)}",
                                             f"order_by={order}") if x)
                    label = f"{page}: {scope or 'all'}, val_rmse{bound}, by {order}"
                    cases.append((label, (lambda p: lambda _r: p)(f"{base}&{q}".replace("?&", "?"))))
        # A bound on another metric (val_mape is val_rmse / 20 in the generator): its matches lie at one
        # end of the sort, the far end for one direction.
        for scope in ("", "family=demand-forecast"):
            for bound in ("<0.1", ">0.24"):
                for order in ("champion:val_rmse", "-champion:val_rmse"):
                    q = "&".join(x for x in (scope, f"metric=champion:val_mape{urllib.parse.quote(bound)}",
                                             f"order_by={order}") if x)
                    label = f"{page}: {scope or 'all'}, other metric val_mape{bound}, by {order}"
                    cases.append((label, (lambda p: lambda _r: p)(f"{base}&{q}".replace("?&", "?"))))
    versions = "/api/fleet/v1/versions?max_results=50"
    for scope in ("", "family=churn"):
        for bound in ("<0.1", ">0.25"):
            for order in ("metric:val_mape", "-metric:val_mape"):
                q = "&".join(x for x in (scope, f"metric=val_mape{urllib.parse.quote(bound)}", f"order_by={order}") if x)
                cases.append((f"API versions: {scope or 'all'}, val_mape{bound}, by {order}",
                              (lambda p: lambda _r: p)(f"{versions}&{q}")))
        for bound in ("<2.0", ">5.0"):
            for order in ("metric:val_mape", "-metric:val_mape"):
                q = "&".join(x for x in (scope, f"metric=val_rmse{urllib.parse.quote(bound)}", f"order_by={order}") if x)
                cases.append((f"API versions: {scope or 'all'}, other metric val_rmse{bound}, by {order}",
                              (lambda p: lambda _r: p)(f"{versions}&{q}")))
    cases.extend((label, (lambda p: lambda _r: p)(path)) for label, path in FACET_QUERIES)
    return cases


def rng_hex(rng):
    return "%032x" % rng.getrandbits(128)


def sample_names(db, n, rng):
    """n random existing registered-model names, read straight from the store."""
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        lo, hi = con.execute("SELECT min(rm_id), max(rm_id) FROM registered_models").fetchone()
        names = []
        while len(names) < n:
            row = con.execute("SELECT name FROM registered_models WHERE rm_id >= ? ORDER BY rm_id LIMIT 1",
                              (rng.randint(lo, hi),)).fetchone()
            if row and "=" in row[0]:
                names.append(row[0])
        return names
    finally:
        con.close()


def count_rows(status, body):
    if status != 200:
        return f"{status}: {body[:120].decode(errors='replace')}"
    if body.startswith(b"<"):
        return str(body.count(b'class="result"') or body.count(b"<tr") - 1)
    parsed = json.loads(body)
    return str(len(parsed.get("models") or parsed.get("versions") or parsed.get("registered_models")
                   or parsed.get("model_versions") or []))


def server_cpu_seconds(pid):
    """CPU time the server's threads have run so far (ns resolution, /proc/PID/task/*/schedstat).

    Measured around one request of a single client, its difference is what that request cost the
    server on a CPU, however long it waited for one: the figure that holds on a busy machine. A
    thread that ended between the two readings takes its time with it (tokio's blocking threads
    idle 10 s before they end, so a steady single client keeps them)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def sample_names_postgres(url, n):
    """n random store-model names from the PostgreSQL store at `url` (psql)."""
    psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    query = f"SELECT name FROM registered_models WHERE name LIKE '%=%' ORDER BY random() LIMIT {n}"
    out = subprocess.run([str(psql[-1]) if psql else "psql", "-XAtd", url, "-c", query],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def run_first_pages(args, work, lines):
    import random
    rng = random.Random(args.seed)
    data = Path(args.data_dir) if args.data_dir else work / "flotilla"
    env = None
    if args.database:
        # The store is the PostgreSQL database (generated there once, `fleet generate --database`).
        env = dict(os.environ, FLOTILLA_DATABASE_URL=args.database)
        data.mkdir(parents=True, exist_ok=True)
        names = sample_names_postgres(args.database, 500)
    else:
        if not (data / "flotilla.db").exists():
            log(f"generating {args.models:,} models x {args.versions} versions into {data}")
            generate(args.flotilla_bin, data, args.models, args.versions, 8)
        names = sample_names(data / "flotilla.db", 500, rng)
    with flotilla_server.spawn_flotilla(args.flotilla_bin, data, log_path=work / "flotilla-first-pages.log",
                                        env=env) as server:
        server.wait_ready("/health", 120)
        client = Client(server.port)
        cases = [c for c in first_page_cases(names) if not args.case or any(k in c[0] for k in args.case)]
        pid = server.proc.pid
        lines.append(f"| first page (single client, {args.warmup} warm-up + {args.reps} runs, fresh draw each) "
                     "| p50 | p99 | max | server CPU p50 | server CPU p99 | rows (last) |")
        lines.append("|---|---|---|---|---|---|---|")
        for label, make in cases:
            started_case = time.monotonic()
            for _ in range(args.warmup):
                client.call("GET", make(rng))
                if time.monotonic() - started_case > args.case_seconds:
                    break
            times, cpus, rows, started = [], [], "", time.monotonic()
            for _ in range(args.reps):
                path = make(rng)
                cpu_before = server_cpu_seconds(pid)
                status, body, t = client.call("GET", path)
                cpus.append(server_cpu_seconds(pid) - cpu_before)
                times.append(t)
                rows = count_rows(status, body)
                if time.monotonic() - started > args.case_seconds:
                    break
            runs = "" if len(times) == args.reps else f" ({len(times)} runs: over {args.case_seconds} s)"
            row = (f"| {label}{runs} | {ms(statistics.median(times))} | {ms(pct(times, 99))} | {ms(max(times))} "
                   f"| {ms(statistics.median(cpus))} | {ms(pct(cpus, 99))} | {rows} |")
            lines.append(row)
            log(row)


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
    ap.add_argument("--first-pages", action="store_true",
                    help="time every first page of the MLflow API and each metric bound x sort direction x scope "
                         "of the fleet searches (no promotion, no MLflow side)")
    ap.add_argument("--data-dir", help="with --first-pages: an existing data directory (generated once) to reuse")
    ap.add_argument("--case", action="append", help="with --first-pages: only cases whose label contains this")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--case-seconds", type=float, default=20, help="with --first-pages: stop a case's runs after this")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database", help="with --first-pages: run flotilla on this PostgreSQL database (libpq conninfo "
                                       "or URL), generated beforehand with `flotilla fleet generate --database`")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    backend = "PostgreSQL" if args.database else "SQLite"
    lines = [f"## Fleet registry at {args.models:,} models × {args.versions} versions ({backend})", "",
             f"2 shared cores; load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.", "",
             "| measure | value |", "|---|---|"]
    try:
        if args.first_pages:
            run_first_pages(args, work, lines)
        else:
            results = run_flotilla(args, work, lines)
        if not args.first_pages and not args.skip_mlflow:
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
