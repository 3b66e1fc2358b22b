"""Web UI page times at a million models.

Run through scripts/bench-ui.sh. Steps:
1. A store from `flotilla fleet generate` (--data-dir to reuse one, else a
   fresh one of --models models x 3 versions is generated).
2. `flotilla server` on it; an experiment with --runs runs (metrics, params)
   and one run with 6 metrics x 2,000 steps and artifacts, through the
   MLflow REST API.
3. Every page type of the UI, each requested --reps times after 3 warm-ups
   on one keep-alive connection; p50/p99 of the time from sending the
   request to having the whole page (server time plus loopback transfer).
"""

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402

TEST_OUTPUT = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "test-output"
TARGET_MS = 50.0


def log(msg):
    print(f"bench-ui: {msg}", file=sys.stderr, flush=True)


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        payload = r.read()
        return r.status, payload, time.perf_counter() - started

    def api(self, route, body):
        status, payload, _ = self.call("POST", f"/api/2.0/mlflow/{route}", body)
        if status != 200:
            raise RuntimeError(f"{route}: {status} {payload[:300]!r}")
        return json.loads(payload)


def pct(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def seed_tracking(c, runs):
    exp = c.api("experiments/create", {"name": f"bench-ui-{int(time.time())}"})["experiment_id"]
    for i in range(runs):
        run = c.api("runs/create", {"experiment_id": exp, "run_name": f"run-{i:05d}"})["run"]["info"]["run_id"]
        c.api("runs/log-batch", {
            "run_id": run,
            "metrics": [{"key": k, "value": (i * 7 + j) % 100 / 10, "timestamp": 1, "step": 0}
                        for j, k in enumerate(["rmse", "mae", "r2", "mape"])],
            "params": [{"key": "alpha", "value": str(i % 10)}, {"key": "depth", "value": str(i % 7)}],
        })
    big = c.api("runs/create", {"experiment_id": exp, "run_name": "long-training"})["run"]
    big_id = big["info"]["run_id"]
    metrics = [{"key": f"m{k}", "value": 1 / (1 + s) + k, "timestamp": 1_700_000_000_000 + s, "step": s}
               for k in range(6) for s in range(2000)]
    for i in range(0, len(metrics), 1000):
        c.api("runs/log-batch", {"run_id": big_id, "metrics": metrics[i:i + 1000]})
    root = big["info"]["artifact_uri"].replace("mlflow-artifacts:/", "")
    for name in [f"plots/p{i:03d}.png" for i in range(50)] + ["model/MLmodel", "report.txt"]:
        status, _, _ = c.call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/{name}", raw=b"x" * 1000)
        assert status == 200, status
    return exp, big_id


def seed_big_model(c, versions):
    """One registered model with `versions` versions (MLflow's UI runs out of memory near 200,000)."""
    name = f"bench-ui-big-{int(time.time())}"
    c.api("registered-models/create", {"name": name})
    done = 0
    while done < versions:
        n = min(10_000, versions - done)
        batch = [{"model": name, "source": "mlflow-artifacts:/bench/big",
                  "metrics": [["val_rmse", 1 + ((done + i) % 97) / 100], ["mape", ((done + i) % 13) / 100]]}
                 for i in range(n)]
        status, payload, _ = c.call("POST", "/api/fleet/v1/versions/bulk", {"versions": batch})
        if status != 200:
            raise RuntimeError(f"bulk: {status} {payload[:300]!r}")
        done += n
    status, _, _ = c.call("POST", "/api/2.0/mlflow/registered-models/alias",
                          {"name": name, "alias": "champion", "version": str(versions // 2)})
    assert status == 200
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla-bin", required=True)
    ap.add_argument("--data-dir", help="an existing generated store (else one is generated)")
    ap.add_argument("--models", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--big-model-versions", type=int, default=200_000)
    ap.add_argument("--out", default="bench-ui.md", help="file name under target/test-output")
    args = ap.parse_args()

    tmp = None
    data = args.data_dir
    if not data:
        tmp = tempfile.mkdtemp(prefix="flotilla-bench-ui-")
        data = tmp
        log(f"generating {args.models:,} models into {data}")
        subprocess.run([args.flotilla_bin, "fleet", "generate", "--data-dir", data, "--models", str(args.models)],
                       check=True, stdout=subprocess.DEVNULL)
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, FLOTILLA_LOG="warn")
    server = flotilla_server.spawn_flotilla(args.flotilla_bin, data, log_path=TEST_OUTPUT / "bench-ui.server.log",
                                            env=env)
    try:
        # A store from an older build may first apply migrations.
        server.wait_ready("/health", 600)
        c = Client(server.port)
        log(f"seeding {args.runs} runs and a long run")
        exp, run = seed_tracking(c, args.runs)
        log(f"registering a model with {args.big_model_versions:,} versions")
        big = seed_big_model(c, args.big_model_versions)
        models = json.loads(c.call("GET", "/api/fleet/v1/models?family=demand-forecast&alias=champion&depth=2&max_results=1")[1])
        model = models["models"][0]["name"]
        region = [p for p in models["models"][0]["partition"] if p["key"] == "region"][0]["value"]
        latest = models["models"][0]["latest_version"]
        total = json.loads(c.call("GET", "/api/fleet/v1/facets")[1])["total"]
        q = urllib.parse.quote
        second = json.loads(c.call("GET", "/api/fleet/v1/models?family=demand-forecast&max_results=50")[1])
        token = second.get("next_page_token", "")
        pages = [
            ("fleet home", "/"),
            ("models: first page", "/models"),
            ("models: search as you type (rare substring)", "/models?contains=" + q("store=s00012")),
            ("models: common substring", "/models?contains=" + q("store=s00")),
            ("models: family, by champion metric", "/models?family=demand-forecast&order_by=" + q("-champion:val_rmse")),
            ("models: family, second page", "/models?family=demand-forecast&page_token=" + q(token)),
            ("models: one region (partition facet)", "/models?partition=" + q(f"region={region}")),
            ("models: has challenger", "/models?alias=challenger"),
            ("models: results fragment (typing)", "/models?fragment=results&contains=" + q("store=s0004")),
            ("families list", "/families"),
            ("family page (regions, distribution)", "/families/demand-forecast"),
            ("family: one region's stores by metric", f"/families/demand-forecast?path={q('region=' + region)}&order_by=" + q("-champion:val_rmse")),
            ("model page", f"/models/{q(model, safe='=')}"),
            ("version comparison", f"/models/{q(model, safe='=')}/compare?" + "&".join(f"v={v}" for v in range(1, latest + 1))),
            (f"model with {args.big_model_versions:,} versions", f"/models/{q(big)}"),
            (f"its versions, page 2", None),
            ("audit log", "/audit"),
            ("audit log of one model", "/audit?model=" + q(model)),
            ("experiments", "/experiments"),
            (f"experiment with {args.runs:,} runs", f"/experiments/{exp}"),
            ("run: 6 metric plots x 2,000 steps, artifacts", f"/runs/{run}"),
        ]
        big_page = c.call("GET", f"/models/{q(big)}")[1].decode()
        next_link = re.search(r'href="([^"]*page_token=[^"]*)" rel="next"', big_page)
        pages = [(n, p if p is not None else (next_link.group(1).replace("&amp;", "&") if next_link else f"/models/{q(big)}"))
                 for n, p in pages]
        rows = []
        for name, path in pages:
            for _ in range(3):
                c.call("GET", path)
            times, size, status = [], 0, 0
            for _ in range(args.reps):
                status, body, t = c.call("GET", path)
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {body[:300]!r}")
                times.append(t * 1000)
                size = len(body)
            rows.append((name, path, pct(times, 50), pct(times, 99), max(times), size))
            log(f"{name}: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms")
        load = os.getloadavg()
        out = [
            f"## Web UI page times at {total:,} models",
            "",
            f"Release build; `flotilla fleet generate` store; one keep-alive client on loopback, {args.reps} requests per page "
            f"after 3 warm-ups; time from request to the whole page; 2 shared cores; load average after: "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. Target: p99 under {TARGET_MS:.0f} ms for every page.",
            "",
            "| page | URL | p50 | p99 | max | HTML bytes |",
            "|---|---|---|---|---|---|",
        ]
        for name, path, p50, p99, mx, size in rows:
            mark = "" if p99 < TARGET_MS else " ✗"
            shown = path if len(path) < 70 else path[:67] + "…"
            out.append(f"| {name} | `{shown}` | {p50:.2f} ms | **{p99:.2f} ms**{mark} | {mx:.2f} ms | {size:,} |")
        worst = max(rows, key=lambda r: r[3])
        out += ["", f"Slowest p99: {worst[0]} at {worst[3]:.2f} ms; "
                    f"{sum(r[3] < TARGET_MS for r in rows)} of {len(rows)} pages under {TARGET_MS:.0f} ms p99."]
        text = "\n".join(out) + "\n"
        dest = TEST_OUTPUT / args.out
        dest.write_text(text)
        print(text)
    finally:
        server.stop()
        if tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
