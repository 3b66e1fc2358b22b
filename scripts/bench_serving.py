"""Serving benchmark: flotilla against MLServer 1.7.1 over the Open Inference
Protocol (V2), same models, same load generator (wrk), side by side in one run;
then flotilla alone serving a fleet of small models within a byte budget.

Run through scripts/bench-serving.sh, which prepares wrk and the venvs; this
file runs in .venvs/serving (scikit-learn, xgboost, skl2onnx, mlflow).

Section 1 (side by side): logistic regression (sklearn joblib for MLServer,
ONNX for flotilla), a 50-tree random forest (same), a 50-tree XGBoost random
forest and a 100-tree XGBoost classifier (XGBoost JSON, both servers), one
row per request, at 1 and 16 connections: req/s, p50, p99; plus each
server's health endpoint as its HTTP ceiling. Each cell is the median of
--reps runs, flotilla and MLServer alternating.

Section 2 (fleet): --fleet small models registered in flotilla through the
MLflow REST API by --clients concurrent clients (one model file set shared by
every version), a --fleet-memory budget, time to ready at 1,000 and at the
full count (restart, spawn to /v2/health/ready and to a first answer), cold
and warm first-request latency, then wrk with a random model per request:
errors, throughput, latency, and the server's RSS sampled every second.
"""

import argparse
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
import flotilla_server  # noqa: E402

# ---- small utilities ----------------------------------------------------------------------


def log(msg):
    print(f"bench-serving: {msg}", file=sys.stderr, flush=True)


def call(base_port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def rss_bytes(pid):
    """Resident memory of a process and its children (MLServer forks workers)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except (OSError, ValueError):
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def load_average():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def fmt_time(us):
    if us is None or (isinstance(us, float) and math.isnan(us)):
        return "–"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 1_000_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1_000_000:.2f} s"


def fmt_rate(r):
    if r is None or math.isnan(r):
        return "–"
    return f"{r:,.0f}"


def fmt_bytes(b):
    return f"{b / 2**20:.1f} MiB"


def ratio(a, b):
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.1f}×"


# ---- servers ------------------------------------------------------------------------------


def start_flotilla(bin_path, data_dir, work, memory, name="flotilla"):
    """Spawns flotilla on port 0 over `data_dir`; its `wait_ready` learns the port."""
    return flotilla_server.spawn_flotilla(
        bin_path, data_dir, "--model-memory", memory, log_path=work / f"{name}.log", cwd=work
    )


# ---- models --------------------------------------------------------------------------------


def make_models(out):
    """Trains the benchmark models; returns {key: {"desc", "mlserver": dir/impl, "flotilla": dir}}."""
    import joblib
    import mlflow.onnx
    import mlflow.sklearn
    import mlflow.xgboost
    import numpy as np
    import xgboost as xgb
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from onnx import helper

    make_attribute = helper.make_attribute

    def bools_as_ints(key, value, *a, **kw):
        # skl2onnx 1.20 passes some tree attributes as lists of bools, which onnx 1.23 refuses
        # in an INTS attribute (tests/serving/fixtures_onnx.py does the same).
        if isinstance(value, (list, tuple, np.ndarray)) and len(value) and isinstance(value[0], (bool, np.bool_)):
            value = [int(v) for v in value]
        return make_attribute(key, value, *a, **kw)

    helper.make_attribute = bools_as_ints
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    opts = {"": 17, "ai.onnx.ml": 3}
    models = {}

    def sk(key, desc, model):
        d = out / key
        (d / "mlserver").mkdir(parents=True)
        joblib.dump(model, d / "mlserver" / "model.joblib")
        onx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}}, target_opset=opts)
        mlflow.onnx.save_model(onx, str(d / "flotilla"))
        models[key] = {
            "desc": desc,
            "mlserver": (d / "mlserver", "mlserver_sklearn.SKLearnModel", "model.joblib"),
            "flotilla": d / "flotilla",
            "input": onx.graph.input[0].name,
        }

    def xg(key, desc, booster):
        d = out / key
        (d / "mlserver").mkdir(parents=True)
        booster.save_model(str(d / "mlserver" / "model.json"))
        mlflow.xgboost.save_model(booster, str(d / "flotilla"), model_format="json")
        models[key] = {
            "desc": desc,
            "mlserver": (d / "mlserver", "mlserver_xgboost.XGBoostModel", "model.json"),
            "flotilla": d / "flotilla",
            "input": "input",
        }

    def native(key, desc, model):
        # The same fitted model, as `mlflow.sklearn` saves it (skops) for flotilla's native engine.
        d = out / key
        (d / "mlserver").mkdir(parents=True)
        joblib.dump(model, d / "mlserver" / "model.joblib")
        import skops.io

        # mlflow asks the saver to name the types it trusts (the reading side, flotilla, trusts none
        # but its allow-list anyway).
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        mlflow.sklearn.save_model(model, str(d / "flotilla"), skops_trusted_types=trusted)
        models[key] = {
            "desc": desc,
            "mlserver": (d / "mlserver", "mlserver_sklearn.SKLearnModel", "model.joblib"),
            "flotilla": d / "flotilla",
            "input": "input",
            "datatype": "FP64",
        }

    native("rf100sk", "random forest, 100 trees (mlflow.sklearn skops, native)",
           RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y))
    native("pipesk", "StandardScaler + logistic regression pipeline (mlflow.sklearn skops, native)",
           make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=0)).fit(x, y))
    sk("lr", "logistic regression (iris)", LogisticRegression(max_iter=500, random_state=0).fit(x, y))
    sk("rf50", "random forest, 50 trees (sklearn; ONNX in flotilla)",
       RandomForestClassifier(n_estimators=50, random_state=0).fit(x, y))
    dtrain = xgb.DMatrix(x, y)
    xg("xgbrf50", "XGBoost random forest, 50 trees",
       xgb.train({"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 50, "subsample": 0.8,
                  "colsample_bynode": 0.8, "eta": 1.0, "max_depth": 6, "seed": 0, "nthread": 1}, dtrain, 1))
    # 100 trees in all: binary classifier with 100 boosting rounds.
    xg("xgb100", "XGBoost, 100 trees (binary)",
       xgb.train({"objective": "binary:logistic", "max_depth": 4, "seed": 0, "nthread": 1},
                 xgb.DMatrix(x, (y == 2).astype(int)), 100))
    return models, x[:1].tolist()


def register_flotilla(port, models):
    """Registers each flotilla model directory with the real mlflow client."""
    import mlflow
    from mlflow import MlflowClient

    uri = f"http://127.0.0.1:{port}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(f"bench-serving-{int(time.time())}")
    names = {}
    for key, m in models.items():
        run = client.create_run(exp)
        client.log_artifacts(run.info.run_id, str(m["flotilla"]), "model")
        client.set_terminated(run.info.run_id)
        mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", f"bench-{key}")
        names[key] = (mv.name, run)
    return names, client, exp


def mlserver_repo(repo, models, port, grpc_port, metrics_port):
    repo.mkdir(parents=True)
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": grpc_port, "metrics_port": metrics_port,
                "parallel_workers": 0, "debug": False}
    (repo / "settings.json").write_text(json.dumps(settings))
    for key, m in models.items():
        src, impl, fname = m["mlserver"]
        d = repo / key
        shutil.copytree(src, d)
        (d / "model-settings.json").write_text(json.dumps(
            {"name": key, "implementation": impl, "parameters": {"uri": f"./{fname}", "version": "v1"}}))


def start_mlserver(venv, repo, work, port, name="mlserver"):
    bin_path = Path(venv).resolve() / "bin" / "mlserver"
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    return flotilla_server.Server(name, [bin_path, "start", repo], work / f"{name}.log", port=port, cwd=repo, env=env)


# ---- wrk -----------------------------------------------------------------------------------

WRK_DONE = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local codes = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    if c then for k, v in pairs(c) do codes[tostring(k)] = (codes[tostring(k)] or 0) + v end end
  end
  local parts = {}
  for k, v in pairs(codes) do table.insert(parts, string.format('"%s":%d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%f,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"codes":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status, table.concat(parts, ",")))
end
"""

WRK_POST = r"""
wrk.method = "POST"
wrk.body = BODY
wrk.headers["Content-Type"] = "application/json"
"""

WRK_FLEET = r"""
local n = NMODELS
local prefix = PREFIX
local body = BODY
local headers = {["Content-Type"] = "application/json"}
codes = {}
function init(args)
  math.randomseed(os.time() * 1000 + (tonumber(tostring({}):sub(8), 16) or 0) % 1000)
end
function request()
  return wrk.format("POST", "/v2/models/" .. prefix .. math.random(0, n - 1) .. "/infer", headers, body)
end
function response(status, headers, body)
  if status ~= 200 then codes[status] = (codes[status] or 0) + 1 end
end
"""


def lua_str(s):
    return "[==[" + s + "]==]"


def write_lua(path, script):
    path.write_text(script + WRK_DONE)
    return path


def run_wrk(url, conns, seconds, script, threads=1, timeout="10s"):
    args = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout}", "-s", str(script), url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    m = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else float("nan")
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
    return r


def median_result(results):
    """The run with the median req/s (its latencies come with it); errors summed over all."""
    results = sorted(results, key=lambda r: r["rps"])
    mid = dict(results[len(results) // 2])
    mid["errors_total"] = sum(r["errors"] for r in results)
    mid["runs"] = [round(r["rps"]) for r in results]
    return mid


# ---- section 1: side by side ----------------------------------------------------------------


def infer_body(input_name, row, datatype="FP32"):
    return json.dumps({"inputs": [{"name": input_name, "shape": [1, len(row[0])], "datatype": datatype,
                                   "data": row}]})


def side_by_side(args, work, flotilla_bin, mlserver_venv):
    models, row = make_models(work / "models")
    fdata = work / "flotilla-data"
    flot = start_flotilla(flotilla_bin, fdata, work, "1GiB")
    mport, mgrpc, mmetrics = flotilla_server.free_port(), flotilla_server.free_port(), flotilla_server.free_port()
    mlserver_repo(work / "mlserver-repo", models, mport, mgrpc, mmetrics)
    procs = [flot]
    try:
        t = flot.wait_ready("/health", 30)
        fport = flot.port
        log(f"flotilla healthy in {t:.2f} s (port {fport})")
        names, _, _ = register_flotilla(fport, models)
        mls = start_mlserver(mlserver_venv, work / "mlserver-repo", work, mport)
        procs.append(mls)
        t = mls.wait_ready("/v2/health/ready", 300)
        log(f"MLServer ready in {t:.2f} s (port {mport})")

        targets = []  # (label, key, server, url, script)
        lua_dir = work / "lua"
        lua_dir.mkdir()
        for key, m in models.items():
            fbody = infer_body(m["input"], row, m.get("datatype", "FP32"))
            mbody = infer_body("input", row, m.get("datatype", "FP32"))
            fname = names[key][0]
            # Check both answer before loading them.
            for port, path, body in ((fport, f"/v2/models/{fname}/infer", fbody), (mport, f"/v2/models/{key}/infer", mbody)):
                status, data = call(port, "POST", path, body.encode())
                if status != 200:
                    raise RuntimeError(f"{path} on port {port}: {status} {data[:300]!r}")
            fscript = write_lua(lua_dir / f"f-{key}.lua", WRK_POST.replace("BODY", lua_str(fbody)))
            mscript = write_lua(lua_dir / f"m-{key}.lua", WRK_POST.replace("BODY", lua_str(mbody)))
            targets.append((m["desc"], key, "flotilla", f"http://127.0.0.1:{fport}/v2/models/{fname}/infer", fscript))
            targets.append((m["desc"], key, "mlserver", f"http://127.0.0.1:{mport}/v2/models/{key}/infer", mscript))
        get_script = write_lua(lua_dir / "get.lua", "")
        targets.append(("health endpoint (HTTP ceiling)", "health", "flotilla", f"http://127.0.0.1:{fport}/v2/health/live", get_script))
        targets.append(("health endpoint (HTTP ceiling)", "health", "mlserver", f"http://127.0.0.1:{mport}/v2/health/live", get_script))

        results = {}
        rss_peak = {"flotilla": 0, "mlserver": 0}
        for conns in args.connections:
            # Warm up every target briefly, then alternate servers per repetition.
            for label, key, server, url, script in targets:
                run_wrk(url, conns, 1, script)
            for rep in range(args.reps):
                for label, key, server, url, script in targets:
                    r = run_wrk(url, conns, args.seconds, script)
                    results.setdefault((key, server, conns), []).append(r)
                    rss_peak[server] = max(rss_peak[server], rss_bytes(flot.pid if server == "flotilla" else mls.pid))
                    log(f"c={conns} {server:8} {key:7} rep {rep + 1}: {r['rps']:,.0f} req/s p50 {fmt_time(r['p50'])} "
                        f"p99 {fmt_time(r['p99'])} errors {r['errors']}")
        idle = {"flotilla": rss_bytes(flot.pid), "mlserver": rss_bytes(mls.pid)}
        return models, results, rss_peak, idle
    finally:
        for p in procs:
            p.stop()


def side_by_side_table(args, models, results, rss_peak, idle):
    lines = []
    lines.append("| model | conns | flotilla req/s | p50 | p99 | MLServer req/s | p50 | p99 | req/s ratio | p50 ratio | flotilla % of its ceiling |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = list(models) + ["health"]
    notes = []
    for conns in args.connections:
        ceiling = median_result(results[("health", "flotilla", conns)])["rps"]
        for key in keys:
            f = median_result(results[(key, "flotilla", conns)])
            m = median_result(results[(key, "mlserver", conns)])
            desc = models[key]["desc"] if key in models else "`/v2/health/live` (HTTP ceiling)"
            of_ceiling = f"{100 * f['rps'] / ceiling:.0f}%" if key != "health" else "100%"
            lines.append(
                f"| {desc} | {conns} | {fmt_rate(f['rps'])} | {fmt_time(f['p50'])} | {fmt_time(f['p99'])} | "
                f"{fmt_rate(m['rps'])} | {fmt_time(m['p50'])} | {fmt_time(m['p99'])} | "
                f"**{ratio(f['rps'], m['rps'])}** | {ratio(m['p50'], f['p50'])} | {of_ceiling} |")
            for who, r in (("flotilla", f), ("MLServer", m)):
                if r["errors_total"]:
                    notes.append(f"{who} {key} c={conns}: {r['errors_total']} errors/non-2xx over {args.reps} runs")
    lines.append("")
    lines.append(f"Memory (RSS, whole process tree): flotilla idle after the runs {fmt_bytes(idle['flotilla'])}, "
                 f"peak sampled {fmt_bytes(rss_peak['flotilla'])}; MLServer {fmt_bytes(idle['mlserver'])}, "
                 f"peak {fmt_bytes(rss_peak['mlserver'])}.")
    lines.append("Ratios: req/s flotilla ÷ MLServer; p50 MLServer ÷ flotilla (higher = flotilla faster).")
    if notes:
        lines.append("")
        lines += [f"- {n}" for n in notes]
    else:
        lines.append("No errors or non-2xx answers in any run.")
    return "\n".join(lines)


# ---- section 2: the fleet -------------------------------------------------------------------

REGISTER_STATE = {}


def _register_init(port, source, run_id):
    REGISTER_STATE.update(port=port, source=source, run_id=run_id, conn=None)


def _register_call(path, body):
    for attempt in range(5):
        conn = REGISTER_STATE.get("conn")
        if conn is None:
            conn = REGISTER_STATE["conn"] = http.client.HTTPConnection("127.0.0.1", REGISTER_STATE["port"], timeout=60)
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            return r.status, data
        except (OSError, http.client.HTTPException):
            conn.close()
            REGISTER_STATE["conn"] = None
            if attempt == 4:
                raise
    return 0, b""


def _register_chunk(bounds):
    lo, hi, prefix = bounds
    errors = []
    for i in range(lo, hi):
        name = f"{prefix}{i}"
        s, d = _register_call("/api/2.0/mlflow/registered-models/create", {"name": name})
        if s != 200:
            errors.append(f"create {name}: {s} {d[:200]!r}")
            continue
        s, d = _register_call("/api/2.0/mlflow/model-versions/create",
                              {"name": name, "source": REGISTER_STATE["source"], "run_id": REGISTER_STATE["run_id"]})
        if s != 200:
            errors.append(f"version {name}: {s} {d[:200]!r}")
    return hi - lo, errors[:5], len(errors)


def register_fleet(port, source, run_id, prefix, lo, hi, clients):
    chunk = 500
    bounds = [(a, min(a + chunk, hi), prefix) for a in range(lo, hi, chunk)]
    t0 = time.monotonic()
    done, errors, nerr = 0, [], 0
    ctx = mp.get_context("fork")
    with ctx.Pool(clients, initializer=_register_init, initargs=(port, source, run_id)) as pool:
        for n, errs, ne in pool.imap_unordered(_register_chunk, bounds):
            done += n
            nerr += ne
            errors += errs
            if done % 10000 < chunk:
                log(f"registered {lo + done:,} models ({done / (time.monotonic() - t0):,.0f}/s)")
    return time.monotonic() - t0, nerr, errors[:5]


def make_fleet_model(out, trees):
    """One model for the whole fleet: an XGBoost classifier, `trees` trees of depth 3."""
    import mlflow.xgboost
    import numpy as np
    import xgboost as xgb
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1},
                        xgb.DMatrix(x, (y == 2).astype(int)), trees)
    d = out / "fleet-model"
    mlflow.xgboost.save_model(booster, str(d), model_format="json")
    return d, x[:1].tolist()


def count_loaded(port, prefix):
    """Models in memory, counted by paging the repository index with `ready: true`."""
    loaded, pages, token = 0, 0, None
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        while True:
            body = {"ready": True, "name_prefix": prefix, "max_results": 1000}
            if token:
                body["page_token"] = token
            conn.request("POST", "/v2/repository/index", body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                return None, pages, time.monotonic() - t0
            loaded += len(json.loads(data))
            pages += 1
            token = r.getheader("x-flotilla-next-page-token")
            if not token:
                return loaded, pages, time.monotonic() - t0
    finally:
        conn.close()


def time_to_ready(bin_path, data, work, memory, prefix, count, body):
    """Restarts flotilla over `data`: seconds from spawn to /health, /v2/health/ready, and a first infer."""
    p = start_flotilla(bin_path, data, work, memory, name=f"flotilla-restart-{count}")
    try:
        health = p.wait_ready("/health", 120)
        port = p.port
        ready = p.wait_ready("/v2/health/ready", 120)
        status, data_ = call(port, "POST", f"/v2/models/{prefix}{random.randrange(count)}/infer", body.encode())
        first = time.monotonic() - p.started
        if status != 200:
            raise RuntimeError(f"first infer after restart: {status} {data_[:200]!r}")
        rss = rss_bytes(p.pid)
        return {"health": health, "ready": ready, "first_infer": first, "rss": rss}
    finally:
        p.stop()


def first_request_latencies(port, prefix, count, body, n, seen):
    """Latency of the first request to n never-requested models, then of a second one to each."""
    cold, warm = [], []
    pool = [i for i in random.sample(range(count), min(count, n * 3)) if i not in seen][:n]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for i in pool:
            seen.add(i)
            path = f"/v2/models/{prefix}{i}/infer"
            for bucket in (cold, warm):
                t0 = time.perf_counter()
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                bucket.append((time.perf_counter() - t0) * 1e6)
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status}")
    finally:
        conn.close()
    return cold, warm


class RssSampler(threading.Thread):
    def __init__(self, pid, every=1.0):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - self.t0, rss_bytes(self.pid)))
            self._halt.wait(self.every)

    def halt(self):
        self._halt.set()
        self.join()


def mlserver_fleet_ready(mlserver_venv, work, count):
    """MLServer with `count` copies of the same tiny LR: seconds to /v2/health/ready and RSS."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    repo = work / f"mlserver-fleet-{count}"
    repo.mkdir()
    port = flotilla_server.free_port()
    (repo / "settings.json").write_text(json.dumps(
        {"host": "127.0.0.1", "http_port": port, "grpc_port": flotilla_server.free_port(),
         "metrics_port": flotilla_server.free_port(),
         "parallel_workers": 0}))
    model = repo / "_model.joblib"
    joblib.dump(LogisticRegression(max_iter=300).fit(x, y), model)
    for i in range(count):
        d = repo / f"m{i:05d}"
        d.mkdir()
        shutil.copy(model, d / "model.joblib")
        (d / "model-settings.json").write_text(json.dumps(
            {"name": f"m{i:05d}", "implementation": "mlserver_sklearn.SKLearnModel",
             "parameters": {"uri": "./model.joblib", "version": "v1"}}))
    p = start_mlserver(mlserver_venv, repo, work, port, name=f"mlserver-fleet-{count}")
    try:
        ready = p.wait_ready("/v2/health/ready", 600)
        return {"ready": ready, "rss": rss_bytes(p.pid)}
    finally:
        p.stop()


def fleet(args, work, flotilla_bin, mlserver_venv):
    model_dir, row = make_fleet_model(work, args.fleet_trees)
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": row}]})
    data = work / "fleet-data"
    prefix = "fleet-"
    out = {"count": args.fleet, "memory": args.fleet_memory, "trees": args.fleet_trees}
    p = start_flotilla(flotilla_bin, data, work, args.fleet_memory, name="flotilla-fleet")
    try:
        p.wait_ready("/health", 60)
        port = p.port
        import mlflow
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        exp = client.create_experiment("fleet")
        run = client.create_run(exp)
        client.log_artifacts(run.info.run_id, str(model_dir), "model")
        client.set_terminated(run.info.run_id)
        source = f"{client.get_run(run.info.run_id).info.artifact_uri}/model"
        del mlflow
        first = min(1000, args.fleet)
        t, nerr, errs = register_fleet(port, source, run.info.run_id, prefix, 0, first, args.clients)
        out["register_1k"] = (t, nerr, errs)
    finally:
        p.stop()
    log("restart with 1,000 models")
    out["ready_1k"] = time_to_ready(flotilla_bin, data, work, args.fleet_memory, prefix, first, body)
    if args.fleet > first:
        p = start_flotilla(flotilla_bin, data, work, args.fleet_memory, name="flotilla-fleet-2")
        try:
            p.wait_ready("/health", 120)
            port = p.port
            t, nerr, errs = register_fleet(port, source, run.info.run_id, prefix, first, args.fleet, args.clients)
            out["register_rest"] = (t, nerr, errs, args.fleet - first)
            log(f"registered {args.fleet - first:,} more in {t:.1f} s ({(args.fleet - first) / t:,.0f}/s), {nerr} errors")
        finally:
            p.stop()
        log(f"restart with {args.fleet:,} models")
        out["ready_full"] = time_to_ready(flotilla_bin, data, work, args.fleet_memory, prefix, args.fleet, body)

    # The load run on a fresh start: cold/warm first requests, then wrk random access.
    p = start_flotilla(flotilla_bin, data, work, args.fleet_memory, name="flotilla-fleet-load")
    try:
        p.wait_ready("/v2/health/ready", 120)
        port = p.port
        out["rss_start"] = rss_bytes(p.pid)
        seen = set()
        cold, warm = first_request_latencies(port, prefix, args.fleet, body.encode(), args.cold_samples, seen)
        out["cold"], out["warm"] = cold, warm
        lua = write_lua(work / "fleet.lua", WRK_FLEET.replace("NMODELS", str(args.fleet)).replace(
            "PREFIX", lua_str(prefix)).replace("BODY", lua_str(body)))
        out["runs"] = []
        for conns, seconds in ((16, args.fleet_seconds), (1, max(5, args.fleet_seconds // 3))):
            sampler = RssSampler(p.pid)
            sampler.start()
            r = run_wrk(f"http://127.0.0.1:{port}/", conns, seconds, lua, timeout="30s")
            sampler.halt()
            r["rss"] = sampler.samples
            out["runs"].append((conns, seconds, r))
            log(f"fleet c={conns}: {r['rps']:,.0f} req/s p50 {fmt_time(r['p50'])} p99 {fmt_time(r['p99'])} "
                f"errors {r['errors']} codes {r['codes']} RSS max {fmt_bytes(max(s for _, s in r['rss']))}")
        out["loaded_after"], out["index_pages"], out["index_seconds"] = count_loaded(port, prefix)
        out["rss_end"] = rss_bytes(p.pid)
        # A second round of never-seen models after the budget has filled (evictions on every load).
        cold2, _ = first_request_latencies(port, prefix, args.fleet, body.encode(), args.cold_samples, seen)
        out["cold_full"] = cold2
    finally:
        p.stop()
    if args.mlserver_fleet:
        log(f"MLServer with {args.mlserver_fleet:,} models")
        try:
            out["mlserver_ready"] = mlserver_fleet_ready(mlserver_venv, work, args.mlserver_fleet)
        except RuntimeError as e:
            out["mlserver_ready"] = {"error": str(e)[:300]}
    return out


def fleet_table(f):
    n = f"{f['count']:,}"
    lines = [f"Fleet: {n} registered models (one XGBoost model, {f['trees']} trees of depth 3, per version; every version loads "
             f"separately), budget {f['memory']}.", "",
             "| measure | value |", "|---|---|"]
    t, nerr, errs = f["register_1k"]
    lines.append(f"| register first 1,000 (create model + version, REST) | {t:.2f} s ({1000 / t:,.0f}/s), {nerr} errors |")
    if "register_rest" in f:
        t, nerr, errs, k = f["register_rest"]
        lines.append(f"| register next {k:,} | {t:.1f} s ({k / t:,.0f} models/s = {2 * k / t:,.0f} calls/s), {nerr} errors |")
    for key, label in (("ready_1k", "1,000"), ("ready_full", n)):
        if key in f:
            r = f[key]
            lines.append(f"| restart → `/v2/health/ready` with {label} models | {r['ready'] * 1000:.0f} ms "
                         f"(`/health` {r['health'] * 1000:.0f} ms; first infer answered {r['first_infer'] * 1000:.0f} ms "
                         f"after spawn); RSS {fmt_bytes(r['rss'])} |")
    if "mlserver_ready" in f:
        r = f["mlserver_ready"]
        if "error" in r:
            lines.append(f"| MLServer 1.7.1 with {args_mlserver_fleet(f)} models | failed: {r['error']} |")
        else:
            lines.append(f"| MLServer 1.7.1, pw=0, {f.get('mlserver_count', '1,000')} LR models → ready (same run) | "
                         f"{r['ready']:.2f} s; RSS {fmt_bytes(r['rss'])} |")
    lines.append(f"| first request to a never-used model (cold load), empty cache | p50 {fmt_time(pct(f['cold'], 50))}, "
                 f"p99 {fmt_time(pct(f['cold'], 99))} ({len(f['cold'])} models) |")
    lines.append(f"| second request to the same model (warm) | p50 {fmt_time(pct(f['warm'], 50))}, "
                 f"p99 {fmt_time(pct(f['warm'], 99))} |")
    lines.append(f"| cold load after the random-access runs | p50 {fmt_time(pct(f['cold_full'], 50))}, "
                 f"p99 {fmt_time(pct(f['cold_full'], 99))} |")
    lines.append(f"| RSS at start (ready, nothing loaded) | {fmt_bytes(f['rss_start'])} |")
    for conns, seconds, r in f["runs"]:
        rs = [s for _, s in r["rss"]]
        series = ", ".join(f"{fmt_bytes(s)}" for _, s in r["rss"][:: max(1, len(r['rss']) // 8)])
        lines.append(f"| wrk random model per request, c={conns}, {seconds} s | {r['rps']:,.0f} req/s, "
                     f"p50 {fmt_time(r['p50'])}, p99 {fmt_time(r['p99'])}, max {fmt_time(r['max'])}; "
                     f"{r['requests']:,} requests, **{r['errors']} errors** {r['codes'] or ''} |")
        lines.append(f"| RSS during that run (1 s samples) | min {fmt_bytes(min(rs))}, max {fmt_bytes(max(rs))}; "
                     f"series {series} |")
    if f.get("loaded_after") is not None:
        lines.append(f"| models in memory at the end (index `ready: true`, {f['index_pages']} pages of 1,000 in "
                     f"{f['index_seconds']:.2f} s) | {f['loaded_after']:,} |")
    lines.append(f"| RSS at the end | {fmt_bytes(f['rss_end'])} |")
    return "\n".join(lines)


def args_mlserver_fleet(f):
    return f.get("mlserver_count", "?")


# ---- main ----------------------------------------------------------------------------------


def main():
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        doc = run_all()
    print("\n".join(doc), flush=True)


def run_all():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flotilla-bin", default=os.environ.get("FLOTILLA_BIN"))
    ap.add_argument("--mlserver-venv", default=str(ROOT / ".venvs" / "mlserver"))
    ap.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--reps", type=int, default=3, help="runs per cell (median reported)")
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--fleet", type=int, default=100_000, help="registered models in the fleet run (0 skips it)")
    ap.add_argument("--fleet-memory", default="1GiB")
    ap.add_argument("--fleet-trees", type=int, default=100, help="trees in the fleet's XGBoost model")
    ap.add_argument("--fleet-seconds", type=int, default=30)
    ap.add_argument("--clients", type=int, default=8, help="concurrent registration clients")
    ap.add_argument("--cold-samples", type=int, default=200)
    ap.add_argument("--mlserver-fleet", type=int, default=1000, help="MLServer models for its ready time (0 skips)")
    ap.add_argument("--skip-side-by-side", action="store_true")
    ap.add_argument("--out", help="also write the markdown here")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    args = ap.parse_args()

    flotilla_bin = Path(args.flotilla_bin or (ROOT / "target" / "release" / "flotilla")).resolve()
    if not flotilla_bin.is_file():
        sys.exit(f"no flotilla binary at {flotilla_bin}")
    mlserver_venv = Path(args.mlserver_venv)
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    log(f"work dir {work}; flotilla {flotilla_bin}")
    load_before = load_average()
    doc = []
    try:
        head = (f"## Serving: flotilla vs MLServer 1.7.1 (V2 REST, JSON, 1 row per request)\n\n"
                f"{os.cpu_count()} cores, shared; load generator wrk 4.1 (-t1, keep-alive) for both servers; "
                f"flotilla `{flotilla_bin.relative_to(ROOT) if flotilla_bin.is_relative_to(ROOT) else flotilla_bin}`; "
                f"MLServer parallel_workers=0; {args.seconds} s per run, median of {args.reps} runs, "
                f"servers alternating; load average before: {load_before}.\n")
        if not args.skip_side_by_side:
            models, results, rss_peak, idle = side_by_side(args, work, flotilla_bin, mlserver_venv)
            doc.append(head)
            doc.append(side_by_side_table(args, models, results, rss_peak, idle))
            doc.append(f"\nload average after: {load_average()}\n")
            print("\n".join(doc), flush=True)  # to stderr here: progress, in case the fleet run fails
        if args.fleet:
            f = fleet(args, work, flotilla_bin, mlserver_venv)
            f["mlserver_count"] = f"{args.mlserver_fleet:,}"
            section = "\n## Fleet: flotilla alone\n\n" + fleet_table(f) + f"\n\nload average after: {load_average()}\n"
            doc.append(section)
    finally:
        if args.out:
            Path(args.out).write_text("\n".join(doc) + "\n")
            log(f"wrote {args.out}")
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return doc


if __name__ == "__main__":
    main()
