"""Plain HTTP against flotilla's V2 endpoints: what real clients send that
tritonclient does not (no Content-Type, nested and flat data, request ids,
output selection, raw binary tensors), version and alias addressing, and every
kind of bad input answered with the right status and a `{"error": ...}` body."""

import json
import struct

import numpy as np
import pytest

from serving_util import (
    assert_error,
    assert_output,
    case_named,
    first_case,
    infer_body,
    post_json,
    request,
    unique,
)


def classifier():
    c = first_case("xgboost-classifier-sklearn-ubj", "xgboost-classifier-sklearn", "lightgbm-binary")
    if c is None:
        pytest.skip("no classifier fixture")
    return c


def regressor():
    c = first_case("xgboost-regression-ubj", "xgboost-regression", "lightgbm-regression-100")
    if c is None:
        pytest.skip("no regression fixture")
    return c


@pytest.fixture(scope="module")
def clf(registrar):
    c = classifier()
    return c, registrar.model_for(c)


def infer(url, name, body, version=None, headers=None):
    path = f"/v2/models/{name}" + (f"/versions/{version}" if version is not None else "") + "/infer"
    return post_json(url, path, body, headers)


def outputs_of(resp):
    assert resp.status == 200, resp
    return {o["name"]: o for o in resp.json()["outputs"]}


# ---- the health and server endpoints ------------------------------------------------------


def test_health(url):
    for path in ("/v2/health/live", "/v2/health/ready"):
        r = request(url, "GET", path)
        assert r.status == 200, (path, r)


def test_server_metadata(url):
    r = request(url, "GET", "/v2")
    assert r.status == 200
    body = r.json()
    assert body["name"] == "flotilla"
    assert {"model_repository", "binary_tensor_data"} <= set(body["extensions"])


# ---- what clients send ---------------------------------------------------------------------


def test_no_content_type(url, clf):
    """tritonclient sends no Content-Type; neither header nor a wrong one may matter."""
    case, name = clf
    body = json.dumps(infer_body(case, case.rows()[:3]))
    plain = request(url, "POST", f"/v2/models/{name}/infer", body)
    assert plain.status == 200, plain
    odd = request(url, "POST", f"/v2/models/{name}/infer", body, {"Content-Type": "text/plain"})
    assert odd.status == 200, odd
    assert plain.json()["outputs"] == odd.json()["outputs"]
    assert plain.header("content-type").startswith("application/json")


def test_nested_and_flat_data(url, clf):
    case, name = clf
    rows = case.rows()
    flat = outputs_of(infer(url, name, infer_body(case, rows, flat=True)))
    nested = outputs_of(infer(url, name, infer_body(case, rows, flat=False)))
    assert flat == nested
    for out, expected in case.expected.items():
        assert_output(out, flat[out]["data"], flat[out]["datatype"], expected, case.rtol)
        assert flat[out]["shape"][0] == len(rows)


def test_single_row_without_batch_dimension(url, clf):
    """A 1-D input of n_features elements is one row (the model expects [-1, n])."""
    case, name = clf
    row = case.rows()[0]
    body = {"inputs": [{"name": case.input_name, "shape": [len(row)], "datatype": "FP32", "data": row.tolist()}]}
    r = infer(url, name, body)
    assert r.status == 200, r
    one = outputs_of(infer(url, name, infer_body(case, case.rows()[:1])))
    assert {k: v["data"] for k, v in outputs_of(r).items()} == {k: v["data"] for k, v in one.items()}


def test_id_echoed(url, clf):
    case, name = clf
    for rid in ("abc-123", "", "ünïcode id ✓"):
        r = infer(url, name, infer_body(case, case.rows()[:1], id=rid))
        assert r.status == 200, r
        assert r.json()["id"] == rid
    r = infer(url, name, infer_body(case, case.rows()[:1]))
    assert r.status == 200
    body = r.json()
    assert body["model_name"] == name and body["model_version"] == "1"
    assert body.get("id") in (None, "")


def test_outputs_selection(url, clf):
    case, name = clf
    rows = case.rows()[:5]
    everything = outputs_of(infer(url, name, infer_body(case, rows)))
    assert set(case.expected) <= set(everything)
    for out in everything:
        r = infer(url, name, infer_body(case, rows, outputs=[{"name": out}]))
        got = outputs_of(r)
        assert list(got) == [out]
        assert got[out] == everything[out]
    # Order follows the request.
    names = list(everything)[::-1]
    r = infer(url, name, infer_body(case, rows, outputs=[{"name": n} for n in names]))
    assert [o["name"] for o in r.json()["outputs"]] == names


def test_fp64_and_int_inputs_coerced_or_refused(url, clf):
    """The spec lets a server coerce element types or refuse them; never a 5xx or a wrong answer."""
    case, name = clf
    rows = case.rows()[:4]
    want = outputs_of(infer(url, name, infer_body(case, rows)))
    r = infer(url, name, infer_body(case, rows.astype(np.float64), datatype="FP64"))
    assert r.status in (200, 400), r
    if r.status == 200:
        assert {k: v["data"] for k, v in outputs_of(r).items()} == {k: v["data"] for k, v in want.items()}
    ints = np.round(rows).astype(np.int64)
    r = infer(url, name, infer_body(case, ints, datatype="INT64"))
    assert r.status in (200, 400), r
    if r.status == 400:
        assert_error(r, 400)


# ---- the binary tensor extension, by hand ---------------------------------------------------


def binary_request(case, rows, outputs=None, binary_output=True, **extra):
    raw = np.ascontiguousarray(rows, dtype="<f4").tobytes()
    header = {
        "inputs": [
            {
                "name": case.input_name,
                "shape": list(rows.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        "parameters": {"binary_data_output": binary_output},
        **extra,
    }
    if outputs is not None:
        header["outputs"] = outputs
    head = json.dumps(header).encode()
    return head + raw, {"Inference-Header-Content-Length": str(len(head))}


def split_binary(resp):
    n = int(resp.header("inference-header-content-length"))
    head = json.loads(resp.body[:n])
    tail = resp.body[n:]
    arrays, offset = {}, 0
    dtypes = {"FP32": "<f4", "FP64": "<f8", "INT64": "<i8", "INT32": "<i4", "UINT64": "<u8", "BOOL": "?"}
    for o in head["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:
            arrays[o["name"]] = np.asarray(o["data"])
            continue
        arrays[o["name"]] = np.frombuffer(tail[offset : offset + size], dtype=dtypes[o["datatype"]])
        offset += size
    assert offset == len(tail), f"{len(tail) - offset} trailing bytes"
    return head, arrays


def test_binary_in_and_out(url, clf):
    case, name = clf
    rows = case.rows()
    body, headers = binary_request(case, rows, id="bin-1")
    r = request(url, "POST", f"/v2/models/{name}/infer", body, headers)  # no Content-Type, like tritonclient
    assert r.status == 200, r
    head, arrays = split_binary(r)
    assert head["id"] == "bin-1"
    for out, expected in case.expected.items():
        dt = next(o["datatype"] for o in head["outputs"] if o["name"] == out)
        assert_output(out, arrays[out], dt, expected, case.rtol)


def test_binary_in_json_out_and_mixed(url, clf):
    case, name = clf
    rows = case.rows()[:6]
    body, headers = binary_request(case, rows, binary_output=False)
    r = request(url, "POST", f"/v2/models/{name}/infer", body, headers)
    assert r.status == 200, r
    assert r.header("inference-header-content-length") is None
    json_out = outputs_of(r)
    outs = list(json_out)
    if len(outs) < 2:
        pytest.skip("needs a model with two outputs")
    wanted = [{"name": outs[0], "parameters": {"binary_data": True}}, {"name": outs[1], "parameters": {"binary_data": False}}]
    body, headers = binary_request(case, rows, outputs=wanted, binary_output=False)
    r = request(url, "POST", f"/v2/models/{name}/infer", body, headers)
    assert r.status == 200, r
    head, arrays = split_binary(r)
    assert "data" not in head["outputs"][0] and "data" in head["outputs"][1]
    for out in outs[:2]:
        assert np.allclose(np.asarray(arrays[out], dtype=np.float64), np.asarray(json_out[out]["data"], dtype=np.float64))


def test_binary_input_errors(url, clf):
    case, name = clf
    rows = case.rows()[:2]
    body, headers = binary_request(case, rows)
    path = f"/v2/models/{name}/infer"
    n = int(headers["Inference-Header-Content-Length"])
    # Header length past the end of the body.
    assert_error(request(url, "POST", path, body, {"Inference-Header-Content-Length": str(len(body) + 10)}), 400)
    # Not a number.
    assert_error(request(url, "POST", path, body, {"Inference-Header-Content-Length": "lots"}), 400)
    # The tensor is short by 4 bytes.
    assert_error(request(url, "POST", path, body[:-4], {"Inference-Header-Content-Length": str(n)}), 400)
    # binary_data_size disagrees with the shape.
    head = json.loads(body[:n])
    head["inputs"][0]["parameters"]["binary_data_size"] -= 4
    h2 = json.dumps(head).encode()
    tail = body[n:][:-4]
    assert_error(request(url, "POST", path, h2 + tail, {"Inference-Header-Content-Length": str(len(h2))}), 400)


# ---- addressing: versions and aliases ------------------------------------------------------


def prediction(url, name, case, version=None):
    r = infer(url, name, infer_body(case, case.rows()[:4]), version=version)
    assert r.status == 200, r
    body = r.json()
    return body["model_version"], next(o["data"] for o in body["outputs"] if o["name"] == "predict")


def test_alias_move(url, registrar, client):
    """Default = alias champion, else newest; a moved alias answers on the very next request."""
    a = case_named("xgboost-regression-ubj") or first_case("xgboost-regression")
    b = case_named("lightgbm-regression-100") or first_case("lightgbm-regression")
    if a is None or b is None or a.rows().shape[1] != b.rows().shape[1]:
        pytest.skip("needs an xgboost and a lightgbm regression with the same features")
    name = unique("alias")
    registrar.register(a.model_dir, name)
    registrar.register(b.model_dir, name)
    # Each version answers its own reference; from here on both get a's rows.
    _, pa = prediction(url, name, a, version=1)
    _, pb_own = prediction(url, name, b, version=2)
    assert_output("v1", pa, "FP32", a.expected["predict"][:4], a.rtol)
    assert_output("v2", pb_own, "FP32", b.expected["predict"][:4], b.rtol)
    _, pb = prediction(url, name, a, version=2)
    assert not np.allclose(pa, pb)

    # No alias: the newest version.
    assert prediction(url, name, a) == ("2", pb)
    client.set_registered_model_alias(name, "champion", "1")
    assert prediction(url, name, a) == ("1", pa)
    assert prediction(url, f"{name}@champion", a) == ("1", pa)
    assert prediction(url, name, a, version="champion") == ("1", pa)
    client.set_registered_model_alias(name, "champion", "2")
    assert prediction(url, name, a) == ("2", pb)
    assert prediction(url, name, a, version=1) == ("1", pa)  # /versions/1 stays
    client.set_registered_model_alias(name, "champion", "1")
    assert prediction(url, name, a) == ("1", pa)
    assert prediction(url, name, a, version=2) == ("2", pb)

    # Another alias, by path and by @.
    client.set_registered_model_alias(name, "challenger", "2")
    assert prediction(url, name, a, version="challenger") == ("2", pb)
    assert prediction(url, f"{name}@challenger", a) == ("2", pb)

    # Metadata follows the alias too.
    r = request(url, "GET", f"/v2/models/{name}")
    assert r.status == 200 and r.json()["versions"] == ["1"], r
    r = request(url, "GET", f"/v2/models/{name}/versions/challenger")
    assert r.status == 200 and r.json()["versions"] == ["2"], r

    # Deleting the default alias falls back to the newest version; a new version is served at once.
    client.delete_registered_model_alias(name, "champion")
    assert prediction(url, name, a) == ("2", pb)
    registrar.register(a.model_dir, name)
    assert prediction(url, name, a) == ("3", pa)


def test_runs_uri_source(url, registrar, clf):
    """A version whose source is the `runs:/` URI itself (create_model_version) is served too."""
    case, _ = clf
    name, version = registrar.register(case.model_dir, unique("runsuri"), via="create_model_version")
    r = infer(url, name, infer_body(case, case.rows()), version=version)
    for out, expected in case.expected.items():
        o = outputs_of(r)[out]
        assert_output(out, o["data"], o["datatype"], expected, case.rtol)


# ---- bad input: right status, `{"error"}` body -----------------------------------------------


def test_wrong_shape(url, clf):
    case, name = clf
    rows = case.rows()[:2]
    n = rows.shape[1]
    extra = np.concatenate([rows, np.zeros((2, 1), np.float32)], axis=1)
    assert_error(infer(url, name, infer_body(case, extra)), 400, "shape")
    # Right element count, wrong shape.
    body = infer_body(case, rows)
    body["inputs"][0]["shape"] = [n, 2]
    assert_error(infer(url, name, body), 400, "shape")
    body["inputs"][0]["shape"] = [2, n, 1]
    assert_error(infer(url, name, body), 400, "shape")
    body["inputs"][0]["shape"] = [-2, n]
    assert_error(infer(url, name, body), 400)


def test_wrong_element_count(url, clf):
    case, name = clf
    body = infer_body(case, case.rows()[:2])
    body["inputs"][0]["data"] = body["inputs"][0]["data"][:-1]
    assert_error(infer(url, name, body), 400, "element")
    body["inputs"][0]["data"] = []
    assert_error(infer(url, name, body), 400)


def test_wrong_datatype(url, clf):
    case, name = clf
    rows = case.rows()[:1]
    assert_error(infer(url, name, infer_body(case, rows, datatype="FP33")), 400, "FP33")
    strings = infer_body(case, rows, datatype="FP32")
    strings["inputs"][0]["data"] = ["x"] * rows.size
    assert_error(infer(url, name, strings), 400)
    as_bytes = dict(strings)
    as_bytes["inputs"] = [dict(strings["inputs"][0], datatype="BYTES")]
    assert_error(infer(url, name, as_bytes), 400)
    as_bool = infer_body(case, rows, datatype="BOOL")
    as_bool["inputs"][0]["data"] = [True] * rows.size
    r = infer(url, name, as_bool)
    assert r.status in (200, 400), r
    if r.status == 400:
        assert_error(r, 400)


def test_malformed_requests(url, clf):
    case, name = clf
    path = f"/v2/models/{name}/infer"
    for body in (b'{"inputs": [', b"not json", b"", b"[]", b"{}", b'{"inputs": {}}', b'{"inputs": [{"name": "input"}]}'):
        assert_error(request(url, "POST", path, body, {"Content-Type": "application/json"}), 400)
    no_data = infer_body(case, case.rows()[:1])
    del no_data["inputs"][0]["data"]
    assert_error(infer(url, name, no_data), 400)
    unknown_output = infer_body(case, case.rows()[:1], outputs=[{"name": "nope"}])
    assert_error(infer(url, name, unknown_output), 400, "nope")
    two = infer_body(case, case.rows()[:1])
    two["inputs"].append(dict(two["inputs"][0], name="second"))
    assert_error(infer(url, name, two), 400)


def test_unknown_model_and_version(url, clf):
    case, name = clf
    ghost = unique("ghost")
    body = infer_body(case, case.rows()[:1])
    assert_error(infer(url, ghost, body), 404, ghost)
    assert_error(request(url, "GET", f"/v2/models/{ghost}"), 404, ghost)
    assert request(url, "GET", f"/v2/models/{ghost}/ready").status == 404
    assert_error(infer(url, name, body, version=99), 404)
    assert_error(request(url, "GET", f"/v2/models/{name}/versions/99"), 404)
    assert request(url, "GET", f"/v2/models/{name}/versions/99/ready").status == 404
    assert_error(infer(url, name, body, version="no-such-alias"), 404)
    assert_error(infer(url, f"{name}@no-such-alias", body), 404)
    assert_error(post_json(url, f"/v2/repository/models/{ghost}/load", {}), 404)
    assert request(url, "GET", f"/v2/models/{name}/ready").status == 200
    assert request(url, "GET", f"/v2/models/{name}/versions/1/ready").status == 200


def _register_dir(registrar, tmp_path, files):
    d = tmp_path / "model"
    d.mkdir()
    for fname, content in files.items():
        (d / fname).write_bytes(content if isinstance(content, bytes) else content.encode())
    return registrar.register(d, unique("odd"))[0]


def test_unsupported_flavor_only_mlmodel(url, registrar, tmp_path, clf):
    case, _ = clf
    name = _register_dir(
        registrar, tmp_path, {"MLmodel": "flavors:\n  pytorch:\n    model_data: data\n", "data": b"\x80\x04N."}
    )
    assert_error(infer(url, name, infer_body(case, case.rows()[:1])), 400, "pytorch")


@pytest.mark.parametrize(
    "files, fragment",
    [
        ({"MLmodel": "flavors:\n  xgboost:\n    data: model.ubj\n    model_format: ubj\n"}, ""),  # file missing
        ({"MLmodel": "flavors:\n  xgboost:\n    data: model.json\n    model_format: json\n", "model.json": "{not json"}, ""),
        ({"MLmodel": "flavors:\n  onnx:\n    data: model.onnx\n", "model.onnx": b"\x00\x01garbage"}, ""),
        ({"MLmodel": "flavors:\n  lightgbm:\n    data: model.lgb\n", "model.lgb": "tree\nversion=v4\n"}, ""),
        ({"MLmodel": ": : : not yaml ["}, ""),
    ],
    ids=["missing-file", "bad-json", "bad-onnx", "truncated-lgb", "bad-mlmodel"],
)
def test_broken_model_files(url, registrar, tmp_path, clf, files, fragment):
    """Broken model files are the model's fault, not the server's: 400, never 500."""
    case, _ = clf
    name = _register_dir(registrar, tmp_path, files)
    assert_error(infer(url, name, infer_body(case, case.rows()[:1])), 400, fragment)


# ---- the repository extension over plain HTTP ------------------------------------------------


def test_repository_index_filters_and_paging(url, registrar, clf):
    case, _ = clf
    prefix = unique("idx")
    names = sorted(registrar.register(case.model_dir, f"{prefix}-{i}")[0] for i in range(3))
    # An empty body without Content-Type (what tritonclient sends) lists models.
    r = request(url, "POST", "/v2/repository/index", b"")
    assert r.status == 200, r
    assert isinstance(r.json(), list)
    r = post_json(url, "/v2/repository/index", {"name_prefix": prefix})
    assert r.status == 200, r
    entries = r.json()
    assert sorted(e["name"] for e in entries) == names
    for e in entries:
        assert e["version"] == "1" and e["state"] == "UNAVAILABLE" and isinstance(e["reason"], str)

    first = post_json(url, "/v2/repository/index", {"name_prefix": prefix, "max_results": 2})
    assert first.status == 200 and len(first.json()) == 2, first
    token = first.header("x-flotilla-next-page-token")
    assert token, first.headers
    second = post_json(url, "/v2/repository/index", {"name_prefix": prefix, "max_results": 2, "page_token": token})
    assert second.status == 200 and len(second.json()) == 1, second
    assert second.header("x-flotilla-next-page-token") is None
    assert sorted(e["name"] for e in first.json() + second.json()) == names

    # ready: only the loaded ones.
    assert post_json(url, "/v2/repository/index", {"name_prefix": prefix, "ready": True}).json() == []
    assert post_json(url, f"/v2/repository/models/{names[1]}/load", None).status == 200
    ready = post_json(url, "/v2/repository/index", {"name_prefix": prefix, "ready": True}).json()
    assert [e["name"] for e in ready] == [names[1]] and ready[0]["state"] == "READY"
    assert post_json(url, f"/v2/repository/models/{names[1]}/unload", {}).status == 200
    assert post_json(url, "/v2/repository/index", {"name_prefix": prefix, "ready": True}).json() == []


def test_repository_index_bad_body(url):
    assert_error(post_json(url, "/v2/repository/index", b"{nope"), 400)
    assert_error(post_json(url, "/v2/repository/index", {"max_results": "many"}), 400)


def test_no_server_errors_for_odd_paths(url):
    for method, path in (
        ("GET", "/v2/models/"),
        ("GET", "/v2/models/x/versions/"),
        ("POST", "/v2/models/%40/infer"),
        ("GET", "/v2/models/a%2Fb"),
    ):
        r = request(url, method, path, b"{}" if method == "POST" else None)
        assert r.status < 500, (method, path, r)


def test_error_body_on_unknown_binary_model(url):
    """Binary requests for unknown models still get a JSON error (not a binary body)."""
    ghost = unique("ghost")
    head = json.dumps(
        {"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}
    ).encode()
    r = request(url, "POST", f"/v2/models/{ghost}/infer", head + struct.pack("<2f", 1, 2), {"Inference-Header-Content-Length": str(len(head))})
    assert_error(r, 404)
