"""`flotilla serve`: inference only, from the data directory a `flotilla server`
writes. A version registered and an alias moved through the full server are
served by the inference-only process (within its one-second resolution TTL);
the MLflow API is not mounted there."""

import time

from mlflow import MlflowClient

from serving_util import FlotillaServer, Registrar, first_case, infer_body, post_json, request, unique


def _wait_for_version(url, name, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        r = post_json(url, f"/v2/models/{name}/infer", infer_body(case_for_test(), case_for_test().rows()))
        if r.status == 200 and r.json()["model_version"] == want:
            return r
        assert time.monotonic() < deadline, f"still {r.status} {r.body[:200]!r}"
        time.sleep(0.2)


def case_for_test():
    case = first_case("lightgbm-regression-100") or first_case("xgboost-regression-ubj")
    assert case is not None, "needs a regression fixture"
    return case


def test_serve_mode_follows_the_full_server(tmp_path):
    data = tmp_path / "data"
    full = FlotillaServer(data)
    try:
        inference = FlotillaServer(data, mode="serve")
        try:
            client = MlflowClient(tracking_uri=full.url)
            registrar = Registrar(client)
            name = unique("serve-mode")
            registrar.register(case_for_test().model_dir, name, via="artifact_uri")
            _wait_for_version(inference.url, name, "1")
            registrar.register(case_for_test().model_dir, name, via="artifact_uri")
            _wait_for_version(inference.url, name, "2")
            client.set_registered_model_alias(name, "champion", "1")
            _wait_for_version(inference.url, name, "1")
            assert request(inference.url, "GET", "/v2/health/ready").status == 200
            assert request(inference.url, "GET", "/api/2.0/mlflow/experiments/search").status == 404
        finally:
            inference.stop()
    finally:
        full.stop()
