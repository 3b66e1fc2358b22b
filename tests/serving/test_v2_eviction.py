"""Eviction under a small byte budget, on a second flotilla server of this
module's own: a model larger than the whole budget gets 507; with room for
about two models, five models requested round-robin all answer 200 and the
cache never holds more than the budget allows."""

import re
import threading
import time

import pytest
from mlflow import MlflowClient

from serving_util import (
    FlotillaServer,
    Registrar,
    assert_error,
    assert_output,
    first_case,
    infer_body,
    post_json,
    request,
    unique,
)

PREFIXES = (
    "xgboost-regression-ubj",
    "lightgbm-regression-100",
    "xgboost-classifier-sklearn-ubj",
    "lightgbm-binary-100",
    "xgboost-regression-json",
    "xgboost-softprob-ubj",
    "lightgbm-multiclass-3",
)


def five_cases():
    seen, out = set(), []
    for p in PREFIXES:
        c = first_case(p)
        if c is not None and c.name not in seen:
            seen.add(c.name)
            out.append(c)
    if len(out) < 5:
        pytest.skip(f"needs 5 xgboost/lightgbm fixtures, found {[c.name for c in out]}")
    return out[:5]


def infer(url, name, case):
    return post_json(url, f"/v2/models/{name}/infer", infer_body(case, case.rows()))


def check(resp, case):
    assert resp.status == 200, resp
    outs = {o["name"]: o for o in resp.json()["outputs"]}
    for out, expected in case.expected.items():
        assert_output(out, outs[out]["data"], outs[out]["datatype"], expected, case.rtol)


def ready_names(url, prefix):
    r = post_json(url, "/v2/repository/index", {"name_prefix": prefix, "ready": True})
    assert r.status == 200, r
    return {e["name"] for e in r.json()}


def model_memory(url):
    """The bytes loaded models hold now, from `/metrics`."""
    r = request(url, "GET", "/metrics")
    assert r.status == 200, r
    line = next(l for l in r.body.decode().splitlines() if l.startswith("flotilla_model_memory_bytes "))
    return int(float(line.split()[1]))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Five models registered on a fresh server; each one's measured size is read from
    `/metrics` while it is the only model in memory, then it is unloaded. The budget
    holds about two and a half of them, and at least the largest model file: a file
    larger than the whole budget is refused before it is read (507).
    Yields (data_dir, prefix, [(name, case, size)], budget)."""
    cases = five_cases()
    data = tmp_path_factory.mktemp("evict") / "data"
    server = FlotillaServer(data)
    try:
        registrar = Registrar(MlflowClient(tracking_uri=server.url))
        prefix = unique("evict")
        models = []
        for i, case in enumerate(cases):
            name = registrar.register(case.model_dir, f"{prefix}-{i}", via="artifact_uri")[0]
            check(infer(server.url, name, case), case)
            size = model_memory(server.url)
            assert post_json(server.url, f"/v2/repository/models/{name}/unload", {}).status == 200
            assert model_memory(server.url) == 0, "an unloaded model gives its bytes back"
            models.append((name, case, size))
        assert ready_names(server.url, prefix) == set()
    finally:
        server.stop()
    file_sizes = []
    server = FlotillaServer(data, "--model-memory", "1")
    try:
        for name, case, _ in models:
            r = infer(server.url, name, case)
            message = assert_error(r, 507, "budget")
            assert r.header("retry-after") is None, "waiting does not help a model over the budget"
            file_sizes.append(int(re.search(r"needs (\d+) bytes", message).group(1)))
        assert model_memory(server.url) == 0, "refused before it was loaded"
    finally:
        server.stop()
    sizes = [s for _, _, s in models]
    budget = max(int(max(sizes) * 2.5), max(file_sizes))
    print(f"model sizes {sizes}, files {file_sizes}, budget {budget}")
    assert budget < sum(sizes), "the budget must force evictions"
    return data, prefix, models, budget


def test_round_robin_within_two_model_budget(fleet):
    data, prefix, models, budget = fleet
    size_of = {name: size for name, _, size in models}
    server = FlotillaServer(data, "--model-memory", str(budget))
    try:
        statuses, max_ready, evicted_seen = [], 0, False
        for _ in range(6):
            for name, case, _ in models:
                r = infer(server.url, name, case)
                statuses.append(r.status)
                check(r, case)
                ready = ready_names(server.url, prefix)
                assert name in ready
                held = sum(size_of[n] for n in ready)
                assert held <= budget, f"loaded {sorted(ready)} hold {held} bytes > budget {budget}"
                max_ready = max(max_ready, len(ready))
                evicted_seen |= len(ready) < len(models)
        assert statuses == [200] * len(statuses)
        assert max_ready < len(models) and evicted_seen
    finally:
        server.stop()
    assert "panicked" not in server.log_tail(100_000)


def test_concurrent_random_access_within_budget(fleet):
    """Four clients at once over the five models: every answer is right; the only
    tolerated refusal is a 503 with Retry-After (models in use fill the budget), retried."""
    import random

    data, prefix, models, budget = fleet
    server = FlotillaServer(data, "--model-memory", str(budget))
    errors, retried, done = [], [0], [0]
    lock = threading.Lock()

    def client(seed):
        rng = random.Random(seed)
        for _ in range(40):
            name, case, _ = rng.choice(models)
            for _attempt in range(50):
                r = infer(server.url, name, case)
                if r.status == 503 and r.header("retry-after"):
                    with lock:
                        retried[0] += 1
                    time.sleep(0.01)
                    continue
                break
            try:
                check(r, case)
                with lock:
                    done[0] += 1
            except AssertionError as e:
                with lock:
                    errors.append(str(e)[:300])

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors[:5]
        assert done[0] == 160
        assert len(ready_names(server.url, prefix)) < len(models)
    finally:
        server.stop()
    print(f"503 retries: {retried[0]}")
