"""The real `tritonclient.http` client against flotilla: server and model metadata,
readiness, infer for every fixture case in JSON and binary mode, the model
repository extension (index with an empty body, load, unload)."""

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from serving_util import CASES, ERROR_CASES, OK_CASES, assert_output, first_case, unique


def test_fixtures_present():
    assert OK_CASES, "no fixture cases: run tests/serving/make_fixtures.sh and set FLOTILLA_FIXTURES"
    kinds = {c.name.split("-", 1)[0] for c in OK_CASES}
    assert {"xgboost", "lightgbm", "onnx", "sklearn"} <= kinds, f"fixture kinds present: {sorted(kinds)}"


def test_server_metadata(triton):
    meta = triton.get_server_metadata()
    assert meta["name"] == "flotilla"
    assert isinstance(meta["version"], str) and meta["version"]
    assert {"model_repository", "binary_tensor_data"} <= set(meta["extensions"])


def test_server_live_and_ready(triton):
    assert triton.is_server_live()
    assert triton.is_server_ready()


@pytest.mark.parametrize("case", OK_CASES, ids=str)
def test_model_metadata(triton, registrar, case):
    name = registrar.model_for(case)
    assert triton.is_model_ready(name)
    meta = triton.get_model_metadata(name)
    assert meta["name"] == name
    assert meta.get("versions") == ["1"], meta
    assert len(meta["inputs"]) == 1, meta["inputs"]
    inp = meta["inputs"][0]
    assert inp["name"] == case.input_name
    n_features = case.rows().shape[1]
    if case.name.startswith(("xgboost", "lightgbm")):
        assert inp["datatype"] == "FP32"
        assert inp["shape"] == [-1, n_features]
    else:
        assert inp["datatype"] in ("FP32", "FP64")
        assert len(inp["shape"]) == 2 and inp["shape"][0] == -1 and inp["shape"][1] in (-1, n_features), inp
    out_names = [o["name"] for o in meta["outputs"]]
    assert set(case.expected) <= set(out_names), f"outputs {out_names}, reference has {sorted(case.expected)}"
    for o in meta["outputs"]:
        assert o["datatype"] in {"FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES"}, o
        assert isinstance(o["shape"], list) and o["shape"] and o["shape"][0] == -1, o
    if case.name.startswith(("xgboost", "lightgbm")):
        assert "predict" in out_names
    # The same answer for an explicit version and for the version by number in the URL.
    assert triton.get_model_metadata(name, model_version="1")["inputs"] == meta["inputs"]
    assert triton.is_model_ready(name, model_version="1")


def _infer(triton, name, case, binary, outputs_param):
    meta = triton.get_model_metadata(name)
    datatype = meta["inputs"][0]["datatype"]
    rows = case.rows().astype(np.float64 if datatype == "FP64" else np.float32)
    inp = httpclient.InferInput(case.input_name, list(rows.shape), datatype)
    inp.set_data_from_numpy(rows, binary_data=binary)
    outputs = None
    if outputs_param:
        outputs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in case.expected]
    request_id = unique("req")
    result = triton.infer(name, [inp], outputs=outputs, request_id=request_id)
    resp = result.get_response()
    assert resp["model_name"] == name
    assert resp.get("id") == request_id
    return meta, result, resp


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("case", OK_CASES, ids=str)
def test_infer(triton, registrar, case, binary):
    """Every case through tritonclient, outputs requested by name, compared to the reference."""
    name = registrar.model_for(case)
    meta, result, resp = _infer(triton, name, case, binary, outputs_param=True)
    types = {o["name"]: o["datatype"] for o in resp["outputs"]}
    assert set(types) == set(case.expected), f"outputs {sorted(types)}, asked {sorted(case.expected)}"
    declared = {o["name"]: o["datatype"] for o in meta["outputs"]}
    for out, expected in case.expected.items():
        got = result.as_numpy(out)
        assert got is not None, f"output {out} missing"
        assert types[out] == declared[out], f"{out}: answered {types[out]}, metadata says {declared[out]}"
        assert got.shape[0] == len(case.rows()), f"{out}: shape {got.shape}"
        assert_output(out, got, types[out], expected, case.rtol)
        if binary:
            assert any(o["name"] == out and "data" not in o for o in resp["outputs"]), "asked binary, got JSON data"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_all_outputs_by_default(triton, registrar, binary):
    """No `outputs` in the request: every output the metadata lists comes back
    (tritonclient then asks for binary outputs with `binary_data_output`)."""
    case = first_case("xgboost-classifier-sklearn", "lightgbm-binary", "onnx-logreg-iris")
    if case is None:
        pytest.skip("no classifier fixture")
    name = registrar.model_for(case)
    meta, result, resp = _infer(triton, name, case, binary, outputs_param=False)
    assert [o["name"] for o in resp["outputs"]] == [o["name"] for o in meta["outputs"]]
    for out, expected in case.expected.items():
        dt = next(o["datatype"] for o in resp["outputs"] if o["name"] == out)
        assert_output(out, result.as_numpy(out), dt, expected, case.rtol)


@pytest.mark.parametrize("case", ERROR_CASES, ids=str)
def test_unservable_model(triton, registrar, case):
    """Models flotilla cannot run are refused with 400 and a message naming why."""
    name = registrar.model_for(case)
    with pytest.raises(InferenceServerException) as info:
        triton.get_model_metadata(name)
    assert info.value.status() == "400", info.value
    assert case.data.get("error_contains", "") in info.value.message(), info.value.message()
    assert not triton.is_model_ready(name)


def test_unknown_model(triton):
    name = unique("missing")
    assert not triton.is_model_ready(name)
    with pytest.raises(InferenceServerException) as info:
        triton.get_model_metadata(name)
    assert info.value.status() == "404"
    with pytest.raises(InferenceServerException) as info:
        inp = httpclient.InferInput("input", [1, 2], "FP32")
        inp.set_data_from_numpy(np.zeros((1, 2), dtype=np.float32))
        triton.infer(name, [inp])
    assert info.value.status() == "404"


def _index(triton):
    return {m["name"]: m for m in triton.get_model_repository_index()}


def test_repository_index_load_unload(triton, registrar):
    """tritonclient's index posts an empty body; load makes a model READY, unload UNAVAILABLE."""
    case = first_case("onnx-logreg-iris", "xgboost-regression", "lightgbm-regression")
    name = registrar.register(case.model_dir, unique("repo"))[0]
    index = _index(triton)
    assert name in index, f"{name} not in the index ({len(index)} models)"
    assert index[name]["state"] in ("UNAVAILABLE", "READY")
    assert index[name].get("version") == "1"

    triton.load_model(name)
    assert _index(triton)[name]["state"] == "READY"
    assert triton.is_model_ready(name)

    triton.unload_model(name)
    entry = _index(triton)[name]
    assert entry["state"] == "UNAVAILABLE", entry
    assert isinstance(entry.get("reason"), str)

    # Lazy loading: an unloaded model still answers, and is READY again afterwards.
    rows = case.rows()
    inp = httpclient.InferInput(case.input_name, list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows)
    result = triton.infer(name, [inp])
    assert result.get_response()["model_name"] == name
    assert _index(triton)[name]["state"] == "READY"

    # Load is also a reload of a model already loaded.
    triton.load_model(name)
    triton.load_model(name)
    assert _index(triton)[name]["state"] == "READY"


def test_load_unknown_model(triton):
    with pytest.raises(InferenceServerException) as info:
        triton.load_model(unique("nope"))
    assert info.value.status() == "404"


def test_fixture_names_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
