"""Serving telemetry through the real `tritonclient.http` client: traffic to a model
lands in its telemetry windows (the suite's server runs with --monitor-window 1s),
and the V2 statistics extension answers tritonclient's get_inference_statistics."""

import json
import time
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from serving_util import first_case

def _telemetry(url, name):
    with urllib.request.urlopen(f"{url}/api/monitor/v1/models/{name}/telemetry?grain=hour", timeout=30) as r:
        return json.load(r)


def test_traffic_lands_in_telemetry_and_v2_statistics(url, triton, registrar):
    case = first_case("lightgbm", "xgboost")
    if case is None:
        pytest.skip("no tree fixture")
    name = registrar.model_for(case)
    rows = case.rows().astype(np.float32)
    for binary in (False, True, False):
        inp = httpclient.InferInput(case.input_name, list(rows.shape), "FP32")
        inp.set_data_from_numpy(rows, binary_data=binary)
        triton.infer(name, [inp])
    bad = httpclient.InferInput(case.input_name, [1, rows.shape[1] + 1], "FP32")
    bad.set_data_from_numpy(np.zeros((1, rows.shape[1] + 1), dtype=np.float32), binary_data=False)
    with pytest.raises(InferenceServerException):
        triton.infer(name, [bad])

    deadline = time.time() + 15
    while True:
        windows = _telemetry(url, name)["windows"]
        if sum(w["requests"] for w in windows) == 4:
            break
        assert time.time() < deadline, f"telemetry never showed the traffic: {windows}"
        time.sleep(0.3)
    w = windows[0]
    assert w["rows"] == 3 * rows.shape[0]
    assert w["errors"]["client"] == 1
    assert w["latency_ms"]["p99"] > 0
    first = w["features"][0]
    assert first["role"] == "input" and first["count"] == 3 * rows.shape[0]
    assert abs(first["mean"] - float(rows[:, 0].astype(np.float64).mean())) < 1e-4

    stats = triton.get_inference_statistics(name)
    (s,) = stats["model_stats"]
    assert (s["name"], s["version"]) == (name, "1")
    assert s["inference_count"] == 4
    assert s["inference_stats"]["success"]["count"] == 3
    assert s["inference_stats"]["fail"]["count"] == 1
    assert s["inference_stats"]["compute_infer"]["ns"] > 0
    by_version = triton.get_inference_statistics(name, model_version="1")
    assert by_version["model_stats"][0]["inference_count"] == 4
    with pytest.raises(InferenceServerException):
        triton.get_inference_statistics("v2-no-such-model")
