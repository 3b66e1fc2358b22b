"""Tracking: experiments, runs, params, tags, metrics, inputs and run search, as raw REST calls."""

import math

NAMES = ["diff-exp-a", "diff-exp-b", "diff-ëxp-ünicode-🚀", "diff exp with spaces"]


def experiments(c):
    ids = {}
    for i, name in enumerate(NAMES):
        r = c.post(f"create {name}", "/experiments/create",
                   {"name": name, "tags": [{"key": "team", "value": f"t{i % 2}"}]})
        ids[name] = c.remember((r.data or {}).get("experiment_id"), f"exp{i}")
    a = ids[NAMES[0]]
    c.get("get default", "/experiments/get", {"experiment_id": "0"})
    c.get("get a", "/experiments/get", {"experiment_id": a})
    c.get("get by name a", "/experiments/get-by-name", {"experiment_name": NAMES[0]})
    c.get("get by name unicode", "/experiments/get-by-name", {"experiment_name": NAMES[2]})
    c.get("get by name missing", "/experiments/get-by-name", {"experiment_name": "nope"})
    c.get("get by name no param", "/experiments/get-by-name")
    c.get("get missing", "/experiments/get", {"experiment_id": "987654"})
    c.get("get no id", "/experiments/get")
    c.get("get non-numeric id", "/experiments/get", {"experiment_id": "abc"})
    c.post("create duplicate", "/experiments/create", {"name": NAMES[0]})
    c.post("create no name", "/experiments/create", {})
    c.post("create empty name", "/experiments/create", {"name": ""})
    c.post("create name too long", "/experiments/create", {"name": "x" * 501})
    c.post("create name wrong type", "/experiments/create", {"name": 5})
    c.post("create not json", "/experiments/create", raw_body="name=x",
           headers={"Content-Type": "application/x-www-form-urlencoded"})
    c.post("set tag", "/experiments/set-experiment-tag", {"experiment_id": a, "key": "k1", "value": "v1"})
    c.post("set tag overwrite", "/experiments/set-experiment-tag", {"experiment_id": a, "key": "k1", "value": "v2"})
    c.post("set tag missing exp", "/experiments/set-experiment-tag",
           {"experiment_id": "987654", "key": "k1", "value": "v"})
    c.post("set tag no key", "/experiments/set-experiment-tag", {"experiment_id": a, "value": "v"})
    c.post("set tag value too long", "/experiments/set-experiment-tag",
           {"experiment_id": a, "key": "big", "value": "v" * 20001})
    c.post("delete tag", "/experiments/delete-experiment-tag", {"experiment_id": a, "key": "k1"})
    c.post("delete tag again", "/experiments/delete-experiment-tag", {"experiment_id": a, "key": "k1"})
    c.post("update rename", "/experiments/update", {"experiment_id": a, "new_name": "diff-exp-a2"})
    c.post("update rename to existing", "/experiments/update", {"experiment_id": a, "new_name": NAMES[1]})
    c.post("update no new name", "/experiments/update", {"experiment_id": a})
    c.get("get after rename", "/experiments/get", {"experiment_id": a})
    c.get("get by old name", "/experiments/get-by-name", {"experiment_name": NAMES[0]})
    b = ids[NAMES[1]]
    c.post("delete b", "/experiments/delete", {"experiment_id": b})
    c.get("get deleted b", "/experiments/get", {"experiment_id": b})
    c.get("get by name deleted b", "/experiments/get-by-name", {"experiment_name": NAMES[1]})
    c.post("create name of deleted", "/experiments/create", {"name": NAMES[1]})
    c.post("delete b again", "/experiments/delete", {"experiment_id": b})
    c.post("delete missing", "/experiments/delete", {"experiment_id": "987654"})
    for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        c.post(f"search view {view}", "/experiments/search", {"max_results": 100, "view_type": view})
    c.post("search default", "/experiments/search", {})
    c.get("search GET", "/experiments/search", {"max_results": 10})
    c.post("restore b", "/experiments/restore", {"experiment_id": b})
    c.post("restore b again", "/experiments/restore", {"experiment_id": b})
    c.post("restore missing", "/experiments/restore", {"experiment_id": "987654"})
    filters = [
        "name = 'diff-exp-a2'", "name LIKE 'diff-%'", "name ILIKE 'DIFF-EXP%'", "name != 'diff-exp-b'",
        "tags.team = 't1'", "tag.team = 't0'", "tags.team LIKE 't%'", "tags.`team` != 't0'",
        "attributes.name = 'diff-exp-b'", "creation_time > 0", "experiment_id = '1'",
        "name = 'diff-ëxp-ünicode-🚀'", "tags.team IS NULL", "tags.team IS NOT NULL",
        "name = 'x' OR name = 'y'", "bogus = 'x'", "name ~ 'x'", "name = ", "tags.team > 't'",
        "experiment_id IN ('1', '2')", "name IN ('diff-exp-b')",
    ]
    for f in filters:
        c.post(f"search filter {f}", "/experiments/search", {"filter": f, "max_results": 100})
    orders = ["name", "name DESC", "name ASC", "creation_time DESC", "last_update_time", "experiment_id DESC",
              "bogus", "name SIDEWAYS", "tags.team"]
    for o in orders:
        c.post(f"search order {o}", "/experiments/search", {"order_by": [o], "max_results": 100})
    c.post("search two orders", "/experiments/search", {"order_by": ["tags.team", "name DESC"]})
    tokens, token = [], None
    for page in range(5):
        r = c.post(f"search page {page}", "/experiments/search", {"max_results": 2, "order_by": ["name"],
                                                                  **({"page_token": token} if token else {})})
        token = (r.data or {}).get("next_page_token")
        if not token:
            break
        tokens.append(token)
    c.post("search max_results 0", "/experiments/search", {"max_results": 0})
    c.post("search max_results -1", "/experiments/search", {"max_results": -1})
    c.post("search max_results 50000", "/experiments/search", {"max_results": 50000})
    c.post("search max_results 50001", "/experiments/search", {"max_results": 50001})
    c.post("search max_results string", "/experiments/search", {"max_results": "ten"})
    c.post("search bad token", "/experiments/search", {"page_token": "not-a-token"})
    c.post("search bad view", "/experiments/search", {"view_type": "SOMETIMES"})
    # Last, as they may leave the two servers with different experiments.
    c.post("create with artifact location", "/experiments/create",
           {"name": "diff-loc", "artifact_location": "/tmp/somewhere"})
    c.post("delete default", "/experiments/delete", {"experiment_id": "0"})
    c.post("restore default", "/experiments/restore", {"experiment_id": "0"})


def _run(c, label, exp, **extra):
    r = c.post(label, "/runs/create", {"experiment_id": exp, **extra})
    run = (r.data or {}).get("run", {})
    return run.get("info", {}).get("run_id")


def runs(c):
    r = c.post("create experiment", "/experiments/create", {"name": "diff-runs"})
    exp = c.remember((r.data or {}).get("experiment_id"), "exp")
    r1 = c.remember(_run(c, "create named", exp, run_name="first", start_time=1700000000000,
                         tags=[{"key": "t", "value": "1"}], user_id="alice"), "run1")
    r2 = c.remember(_run(c, "create unnamed", exp, start_time=1700000001000), "run2")
    c.remember(_run(c, "create no start time", exp, run_name="now"), "run3")
    c.remember(_run(c, "create name tag only", exp, start_time=1700000002000,
                    tags=[{"key": "mlflow.runName", "value": "from-tag"}]), "run4")
    c.remember(_run(c, "create name and tag differ", exp, run_name="arg", start_time=1700000003000,
                    tags=[{"key": "mlflow.runName", "value": "tag"}]), "run5")
    # where the servers may disagree, on a run of its own so later answers still compare
    rx = c.remember(_run(c, "create divergent", exp, run_name="rx", start_time=1700000004000), "rx")
    c.post("log param no value", "/runs/log-parameter", {"run_id": rx, "key": "novalue"})
    c.post("set tag no value", "/runs/set-tag", {"run_id": rx, "key": "novalue"})
    c.post("update bad status", "/runs/update", {"run_id": rx, "status": "DONE"})
    c.post("log inputs no digest", "/runs/log-inputs",
           {"run_id": rx, "datasets": [{"dataset": {"name": "x", "source_type": "local", "source": "s"}}]})
    c.get("get divergent", "/runs/get", {"run_id": rx})
    c.post("create name too long", "/runs/create", {"experiment_id": exp, "run_name": "n" * 8001})
    c.post("create missing experiment", "/runs/create", {"experiment_id": "987654"})
    c.post("create no experiment", "/runs/create", {"run_name": "orphan"})
    c.remember(_run(c, "create in default", "0", run_name="d", start_time=5), "run0")
    c.get("get named", "/runs/get", {"run_id": r1})
    c.get("get unnamed", "/runs/get", {"run_id": r2})
    c.get("get by run_uuid", "/runs/get", {"run_uuid": r1})
    c.get("get missing", "/runs/get", {"run_id": "0" * 32})
    c.get("get malformed id", "/runs/get", {"run_id": "nope"})
    c.get("get no id", "/runs/get")
    c.post("log param", "/runs/log-parameter", {"run_id": r1, "key": "lr", "value": "0.1"})
    c.post("log param same", "/runs/log-parameter", {"run_id": r1, "key": "lr", "value": "0.1"})
    c.post("log param changed", "/runs/log-parameter", {"run_id": r1, "key": "lr", "value": "0.2"})
    c.post("log param long value", "/runs/log-parameter", {"run_id": r1, "key": "long", "value": "p" * 6001})
    c.post("log param key too long", "/runs/log-parameter", {"run_id": r1, "key": "k" * 251, "value": "1"})
    c.post("log param bad key", "/runs/log-parameter", {"run_id": r1, "key": "../up", "value": "1"})
    c.post("log param unicode", "/runs/log-parameter", {"run_id": r1, "key": "größe", "value": "é🚀"})
    c.post("log param missing run", "/runs/log-parameter", {"run_id": "0" * 32, "key": "a", "value": "1"})
    c.post("set tag", "/runs/set-tag", {"run_id": r1, "key": "color", "value": "red"})
    c.post("set tag overwrite", "/runs/set-tag", {"run_id": r1, "key": "color", "value": "blue"})
    c.post("set tag run_uuid", "/runs/set-tag", {"run_uuid": r1, "key": "shape", "value": "round"})
    c.post("set tag value too long", "/runs/set-tag", {"run_id": r1, "key": "big", "value": "v" * 8001})
    c.post("set tag no key", "/runs/set-tag", {"run_id": r1, "value": "x"})
    c.post("set runName tag", "/runs/set-tag", {"run_id": r2, "key": "mlflow.runName", "value": "renamed"})
    c.post("delete tag", "/runs/delete-tag", {"run_id": r1, "key": "shape"})
    c.post("delete tag missing", "/runs/delete-tag", {"run_id": r1, "key": "shape"})
    c.post("delete tag missing run", "/runs/delete-tag", {"run_id": "0" * 32, "key": "shape"})
    c.post("log metric", "/runs/log-metric", {"run_id": r1, "key": "loss", "value": 0.5, "timestamp": 1000, "step": 0})
    c.post("log metric no step", "/runs/log-metric", {"run_id": r1, "key": "loss", "value": 0.4, "timestamp": 2000})
    c.post("log metric no timestamp", "/runs/log-metric", {"run_id": r1, "key": "acc", "value": 1, "step": 3})
    c.post("log metric NaN", "/runs/log-metric", {"run_id": r1, "key": "nan", "value": "NaN", "timestamp": 1, "step": 0})
    c.post("log metric inf", "/runs/log-metric", {"run_id": r1, "key": "inf", "value": "Infinity", "timestamp": 1})
    c.post("log metric -inf", "/runs/log-metric", {"run_id": r1, "key": "ninf", "value": "-Infinity", "timestamp": 1})
    c.post("log metric no value", "/runs/log-metric", {"run_id": r1, "key": "novalue", "timestamp": 1})
    c.post("log metric string value", "/runs/log-metric", {"run_id": r1, "key": "s", "value": "high", "timestamp": 1})
    c.post("log metric bad step", "/runs/log-metric", {"run_id": r1, "key": "s", "value": 1, "timestamp": 1, "step": "x"})
    c.post("log metric no key", "/runs/log-metric", {"run_id": r1, "value": 1, "timestamp": 1})
    c.post("log metric big step", "/runs/log-metric",
           {"run_id": r1, "key": "loss", "value": -1e300, "timestamp": 3000, "step": 2**40})
    c.post("log metric missing run", "/runs/log-metric", {"run_id": "0" * 32, "key": "a", "value": 1, "timestamp": 1})
    batch = {"run_id": r2,
             "metrics": [{"key": "m", "value": i / 3, "timestamp": 10 + i, "step": i} for i in range(5)],
             "params": [{"key": "p1", "value": "a"}, {"key": "p2", "value": ""}],
             "tags": [{"key": "bt", "value": "x"}]}
    c.post("log batch", "/runs/log-batch", batch)
    c.post("log batch empty", "/runs/log-batch", {"run_id": r2})
    c.post("log batch same param", "/runs/log-batch", {"run_id": r2, "params": [{"key": "p1", "value": "a"}]})
    c.post("log batch changed param", "/runs/log-batch", {"run_id": r2, "params": [{"key": "p1", "value": "b"}]})
    c.post("log batch duplicate params", "/runs/log-batch",
           {"run_id": r2, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "2"}]})
    c.post("log batch 1001 metrics", "/runs/log-batch",
           {"run_id": r2, "metrics": [{"key": "x", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]})
    c.post("log batch 101 params", "/runs/log-batch",
           {"run_id": r2, "params": [{"key": f"k{i}", "value": "1"} for i in range(101)]})
    c.post("log batch 101 tags", "/runs/log-batch",
           {"run_id": r2, "tags": [{"key": f"k{i}", "value": "1"} for i in range(101)]})
    c.post("log batch 1000 metrics", "/runs/log-batch",
           {"run_id": r2, "metrics": [{"key": "many", "value": i, "timestamp": 5, "step": i} for i in range(1000)]})
    c.post("log batch metric no timestamp", "/runs/log-batch",
           {"run_id": r2, "metrics": [{"key": "nots", "value": 1}]})
    c.post("log batch missing run", "/runs/log-batch", {"run_id": "0" * 32, "tags": [{"key": "a", "value": "b"}]})
    inputs = {"run_id": r2, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "training"}],
        "dataset": {"name": "iris", "digest": "abc123", "source_type": "local",
                    "source": '{"uri": "/data/iris.csv"}', "schema": '{"cols": []}', "profile": '{"rows": 150}'}}]}
    c.post("log inputs", "/runs/log-inputs", inputs)
    c.post("log inputs again", "/runs/log-inputs", inputs)
    c.post("log inputs empty", "/runs/log-inputs", {"run_id": r2})
    c.get("get r1 with data", "/runs/get", {"run_id": r1})
    c.get("get r2 with data", "/runs/get", {"run_id": r2})
    c.post("update status", "/runs/update", {"run_id": r1, "status": "FINISHED", "end_time": 1700000100000})
    c.post("update name", "/runs/update", {"run_id": r1, "run_name": "renamed-first"})
    c.post("update nothing", "/runs/update", {"run_id": r1})
    c.post("update missing run", "/runs/update", {"run_id": "0" * 32, "status": "FAILED"})
    c.post("update run_uuid", "/runs/update", {"run_uuid": r2, "status": "KILLED", "end_time": 1700000200000})
    c.get("get after update", "/runs/get", {"run_id": r1})
    c.post("delete r2", "/runs/delete", {"run_id": r2})
    c.get("get deleted", "/runs/get", {"run_id": r2})
    c.post("log to deleted", "/runs/log-metric", {"run_id": r2, "key": "m", "value": 1, "timestamp": 1})
    c.post("tag deleted", "/runs/set-tag", {"run_id": r2, "key": "k", "value": "v"})
    c.post("delete again", "/runs/delete", {"run_id": r2})
    c.post("delete missing", "/runs/delete", {"run_id": "0" * 32})
    c.post("restore r2", "/runs/restore", {"run_id": r2})
    c.post("restore again", "/runs/restore", {"run_id": r2})
    c.post("restore missing", "/runs/restore", {"run_id": "0" * 32})
    c.get("get restored", "/runs/get", {"run_id": r2})
    c.post("finish r2", "/runs/update", {"run_id": r2, "status": "FINISHED"})
    c.post("log to finished", "/runs/log-metric", {"run_id": r2, "key": "late", "value": 1, "timestamp": 1})


def metrics(c):
    r = c.post("create experiment", "/experiments/create", {"name": "diff-metrics"})
    exp = c.remember((r.data or {}).get("experiment_id"), "exp")
    run = c.remember(_run(c, "create run", exp, run_name="m", start_time=1), "run")
    other = c.remember(_run(c, "create run 2", exp, run_name="m2", start_time=2), "run2")
    points = [(0, 1.0, 100), (1, 0.5, 50), (1, 0.25, 60), (2, math.pi, 30), (0, -2, 100), (5, 7, 5)]
    c.post("log batch history", "/runs/log-batch", {"run_id": run, "metrics": [
        {"key": "loss", "value": v, "timestamp": t, "step": s} for s, v, t in points]})
    c.post("log batch other", "/runs/log-batch", {"run_id": other, "metrics": [
        {"key": "loss", "value": s * 2, "timestamp": 1, "step": s} for s in range(10)]})
    c.get("history", "/metrics/get-history", {"run_id": run, "metric_key": "loss"})
    c.get("history run_uuid", "/metrics/get-history", {"run_uuid": run, "metric_key": "loss"})
    c.get("history max 2", "/metrics/get-history", {"run_id": run, "metric_key": "loss", "max_results": 2})
    c.get("history missing key", "/metrics/get-history", {"run_id": run, "metric_key": "nope"})
    c.get("history missing run", "/metrics/get-history", {"run_id": "0" * 32, "metric_key": "loss"})
    c.get("history no key", "/metrics/get-history", {"run_id": run})
    c.get("get run latest", "/runs/get", {"run_id": run})
    c.get("bulk interval", "/metrics/get-history-bulk-interval",
          {"run_ids": [run, other], "metric_key": "loss", "max_results": 5})
    c.get("bulk interval steps", "/metrics/get-history-bulk-interval",
          {"run_ids": [run, other], "metric_key": "loss", "start_step": 1, "end_step": 4})
    c.get("bulk interval no runs", "/metrics/get-history-bulk-interval", {"metric_key": "loss"})
    c.get("bulk interval bad range", "/metrics/get-history-bulk-interval",
          {"run_ids": [run], "metric_key": "loss", "start_step": 5, "end_step": 1})


def run_search(c):
    ids = []
    for n in ("diff-search-1", "diff-search-2"):
        r = c.post(f"create {n}", "/experiments/create", {"name": n})
        ids.append(c.remember((r.data or {}).get("experiment_id"), n))
    e1, e2 = ids
    runs = []
    for i in range(7):
        exp = e1 if i < 5 else e2
        rid = c.remember(_run(c, f"create run {i}", exp, run_name=f"run-{i}", start_time=1000 + i * 10,
                              tags=[{"key": "parity", "value": "even" if i % 2 == 0 else "odd"}]), f"run{i}")
        runs.append(rid)
        c.post(f"log run {i}", "/runs/log-batch", {"run_id": rid,
               "metrics": [{"key": "score", "value": (i * 37) % 11, "timestamp": 1, "step": 0}] if i != 3 else [],
               "params": [{"key": "model", "value": "tree" if i < 3 else "linear"}]})
    c.post("finish run 1", "/runs/update", {"run_id": runs[1], "status": "FINISHED", "end_time": 2000})
    for i, context in ((0, "training"), (2, "eval")):
        c.post(f"log inputs run {i}", "/runs/log-inputs", {"run_id": runs[i], "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": context}],
            "dataset": {"name": "iris", "digest": f"d{i}", "source_type": "local", "source": "s"}}]})
    c.post("delete run 4", "/runs/delete", {"run_id": runs[4]})
    base = {"experiment_ids": [e1, e2]}
    c.post("search all", "/runs/search", base)
    c.post("search one experiment", "/runs/search", {"experiment_ids": [e1]})
    for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        c.post(f"search view {view}", "/runs/search", {**base, "run_view_type": view})
    filters = [
        "metrics.score > 3", "metric.score >= 4", "metrics.score = 0", "metrics.score != 1", "metrics.`score` < 5",
        "params.model = 'tree'", "param.model LIKE 'lin%'", "params.model ILIKE 'TREE'", "params.model != 'tree'",
        "params.model IS NULL", "params.model IS NOT NULL", "tags.parity = 'even'", "tag.parity != 'even'",
        "tags.mlflow.runName = 'run-2'", "tags.`mlflow.runName` LIKE 'run-%'",
        "attributes.status = 'FINISHED'", "attribute.status != 'RUNNING'", "status = 'RUNNING'",
        "attributes.run_name = 'run-3'", "run_name LIKE 'run-%'", "attributes.`Run name` = 'run-1'",
        "attributes.start_time > 1010", "attributes.start_time >= 1010 AND metrics.score > 1",
        "attributes.end_time = 2000", "attributes.user_id = ''", "attributes.artifact_uri LIKE '%artifacts'",
        "run_id = 'zzz'",
        "datasets.name = 'iris'", "datasets.digest = 'd2'", "datasets.context = 'training'",
        "datasets.name LIKE 'ir%'", "datasets.digest IN ('d0', 'd2')", "datasets.bogus = 'x'", "metrics.score > 'x'", "params.model > 'a'", "metrics.score LIKE '1'",
        "foo.bar = 1", "metrics.score > 1 OR metrics.score < 1", "(metrics.score > 1)", "metrics.score >",
        "attributes.status IN ('FINISHED', 'RUNNING')", "attributes.created > 0", "tags.parity IS NULL",
        "attributes.bogus = 'x'", "params.model = \"tree\"", "tags.\"parity\" = 'odd'",
    ]
    for f in filters:
        c.post(f"search filter {f}", "/runs/search", {**base, "filter": f})
    by_id = {"run_id = run0": f"attributes.run_id = '{runs[0]}'",
             "run_id IN (run0, run2)": f"attributes.run_id IN ('{runs[0]}', '{runs[2]}')",
             "run_id NOT IN (run0)": f"attributes.run_id NOT IN ('{runs[0]}')"}
    for label, f in by_id.items():
        c.post(f"search filter {label}", "/runs/search", {**base, "filter": f})
    orders = [
        "metrics.score DESC", "metrics.score", "metrics.score ASC", "params.model", "params.model DESC",
        "tags.parity", "attributes.start_time", "start_time DESC", "attributes.run_name", "run_name DESC",
        "attributes.end_time", "attributes.status", "attributes.user_id DESC", "metrics.missing", "bogus", "metrics.score UP",
    ]
    for o in orders:
        c.post(f"search order {o}", "/runs/search", {**base, "order_by": [o]})
    c.post("search two orders", "/runs/search", {**base, "order_by": ["params.model DESC", "metrics.score"]})
    token = None
    for page in range(6):
        r = c.post(f"search page {page}", "/runs/search", {**base, "max_results": 2, "order_by": ["attributes.run_name"],
                                                           **({"page_token": token} if token else {})})
        token = (r.data or {}).get("next_page_token")
        if not token:
            break
    c.post("search max_results 0", "/runs/search", {**base, "max_results": 0})
    c.post("search max_results 50000", "/runs/search", {**base, "max_results": 50000})
    c.post("search max_results 50001", "/runs/search", {**base, "max_results": 50001})
    c.post("search bad token", "/runs/search", {**base, "page_token": "garbage"})
    c.post("search no experiments", "/runs/search", {})
    c.post("search missing experiment", "/runs/search", {"experiment_ids": ["987654"]})
    c.post("search bad view", "/runs/search", {**base, "run_view_type": "SOME"})


SCENARIOS = [
    ("experiments", experiments),
    ("runs", runs),
    ("metrics", metrics),
    ("run search", run_search),
]
