#!/usr/bin/env python3
"""Filtered registry search under permissions (issue 13's target: a user who can read one
family of ten sees registry search at 10^6 models with p99 < 20 ms).

Generates a fleet (`flotilla fleet generate --families 10`) in a fresh data dir unless
--data-dir names one already generated, starts `flotilla server --auth basic
--default-permission NO_PERMISSIONS`, creates a user, grants READ on one family, and times
registered-model searches (with and without the clause the mlflow 3 client appends), the
fleet API's search, facets and family list, and the UI's model list as that user (first
pages and followed tokens) and as the admin, on one keep-alive connection. Prints a
Markdown table.

  python3 scripts/bench_permissions.py --flotilla-bin target/release/flotilla --models 1000000
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

ADMIN_PASSWORD = "bench-admin-password-1"
PASSWORD = "bench-user-password-1"


class Client:
    def __init__(self, port, user, password):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        payload = r.read()
        elapsed = time.perf_counter() - start
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {payload[:300]!r}")
        if r.getheader("Content-Type", "").startswith("text/html"):
            return {"html": payload.count(b'<td><a href="/models/')}, elapsed
        return json.loads(payload), elapsed


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla-bin", default="target/release/flotilla")
    ap.add_argument("--models", type=int, default=1_000_000)
    ap.add_argument("--versions", type=int, default=1)
    ap.add_argument("--data-dir", help="an already generated data dir (kept)")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="flotilla-perm-bench-")
    data = args.data_dir or os.path.join(work, "data")
    try:
        if not args.data_dir:
            t = time.perf_counter()
            subprocess.run([args.flotilla_bin, "fleet", "--data-dir", data, "generate", "--models", str(args.models),
                            "--versions", str(args.versions), "--families", "10"], check=True,
                           stdout=subprocess.DEVNULL)
            print(f"generated {args.models:,} models in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        port = free_port()
        env = dict(os.environ, FLOTILLA_ADMIN_PASSWORD=ADMIN_PASSWORD)
        log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([args.flotilla_bin, "server", "--data-dir", data, "--port", str(port), "--auth",
                                   "basic", "--default-permission", "NO_PERMISSIONS"], env=env, stdout=log,
                                  stderr=log)
        try:
            for _ in range(600):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    c.request("GET", "/health")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            admin = Client(port, "admin", ADMIN_PASSWORD)
            families, _ = admin.call("GET", "/api/fleet/v1/families?max_results=100")
            names = sorted(f["name"] for f in families["families"])
            family = names[len(names) // 2]
            # A kept --data-dir may hold the user and grant of an earlier run.
            for path, body in (("/api/2.0/mlflow/users/create", {"username": "reader", "password": PASSWORD}),
                               ("/api/3.0/mlflow/users/permissions/grant", {"username": "reader",
                                "resource_type": "family", "resource_id": family, "permission": "READ"})):
                try:
                    admin.call("POST", path, body)
                except RuntimeError as e:
                    if "RESOURCE_ALREADY_EXISTS" not in str(e):
                        raise
            reader = Client(port, "reader", PASSWORD)
            rows = []
            search = "/api/2.0/mlflow/registered-models/search?"
            prompt = "&filter=" + urllib.parse.quote("tags.`mlflow.prompt.is_prompt` != 'true'")
            for who, client in (("reader (one family of 10)", reader), ("admin (everything)", admin)):
                for label, path in (("first page, 100", search + "max_results=100"),
                                    ("first page, 1000", search + "max_results=1000"),
                                    ("mlflow 3 client (prompt clause), 100", search + "max_results=100" + prompt),
                                    ("name LIKE prefix", search + "max_results=100&filter=" +
                                     urllib.parse.quote(f"name LIKE '{family}%'")),
                                    ("newest first, 100", search + "max_results=100&order_by=" +
                                     urllib.parse.quote("last_updated_timestamp DESC")),
                                    ("fleet search, 100", "/api/fleet/v1/models?max_results=100"),
                                    ("fleet search by champion val_rmse", "/api/fleet/v1/models?max_results=100"
                                     "&order_by=champion%3Aval_rmse"),
                                    ("fleet search, partition region=r001", "/api/fleet/v1/models?max_results=100"
                                     "&partition=region%3Dr001"),
                                    ("fleet versions, 100", "/api/fleet/v1/versions?max_results=100"),
                                    ("fleet facets", "/api/fleet/v1/facets"),
                                    ("fleet facets, alias=champion", "/api/fleet/v1/facets?alias=champion"),
                                    ("family list", "/api/fleet/v1/families"),
                                    ("UI /models (page and facets)", "/models")):
                    times = []
                    client.call("GET", path)  # warm
                    for _ in range(args.reps):
                        body, t = client.call("GET", path)
                        times.append(t)
                    n = next((len(body[k]) if isinstance(body[k], list) else body[k]
                              for k in ("total", "html", "registered_models", "models", "versions", "families")
                              if k in body), 0)
                    rows.append((who, label, n, pct(times, 50), pct(times, 99)))
                # following tokens through 20 pages
                times, token = [], ""
                for _ in range(20):
                    body, t = client.call("GET", "/api/2.0/mlflow/registered-models/search?max_results=100"
                                          f"&page_token={urllib.parse.quote(token)}")
                    times.append(t)
                    token = body.get("next_page_token", "")
                    if not token:
                        break
                rows.append((who, "next pages (tokens), 100", len(times), pct(times, 50), pct(times, 99)))
            print(f"| caller | search | rows | p50 ms | p99 ms |  ({args.models:,} models, family `{family}`)")
            print("|---|---|---|---|---|")
            for who, label, n, p50, p99 in rows:
                print(f"| {who} | {label} | {n} | {p50 * 1000:.1f} | {p99 * 1000:.1f} |")
        finally:
            server.terminate()
            server.wait(30)
    finally:
        if not args.data_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
