"""MLflow's scoring protocol: `flotilla serve --model NAME` answers `/invocations`, `/ping`,
`/health` and `/version` as `mlflow models serve` does, and every server answers it per model at
`/invocations/models/{name}[/versions/{v}]`. Each answer is compared with the one MLflow's own
scoring server (`mlflow.pyfunc.scoring_server.invocations`, run in-process on the same model
files) gives the same body: every request format (`dataframe_split`, `dataframe_records`,
`instances`, `inputs`, CSV) on XGBoost, LightGBM and ONNX fixtures. Bad input is a 400 in
MLflow's `{"error_code", "message"}` shape (415 for a content type it does not read)."""

import json
import os
import time

import pytest
import requests
from mlflow import MlflowClient

from scoring_util import PAYLOADS, assert_same, mlflow_answer, payload
from serving_util import FlotillaServer, Registrar, case_named, flotilla_server, unique

CASES = [
    "xgboost-regression-ubj",
    "xgboost-classifier-sklearn-ubj",
    "xgboost-softprob-ubj",
    "lightgbm-binary-100",
    "lightgbm-multiclass-3",
    "onnx-rf-regressor",
    "onnx-logreg-iris",
    "sklearn-pipe-scaler-logreg-skops",
    "sklearn-rf-clf-skops",
    "sklearn-gb-reg-cloudpickle",
    "sklearn-lgbm-clf-binary-pickle",
]
BOUND = "xgboost-regression-ubj"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A full server and `flotilla serve --model` on the same data directory, the cases registered."""
    if case_named(BOUND) is None:
        pytest.skip("needs the serving fixtures (make_fixtures.sh)")
    data = tmp_path_factory.mktemp("scoring") / "data"
    full = FlotillaServer(data)
    try:
        registrar = Registrar(MlflowClient(tracking_uri=full.url))
        names = {}
        for c in CASES:
            if case_named(c) is not None:
                names[c] = registrar.register(case_named(c).model_dir, unique(c), via="artifact_uri")[0]
        bound = FlotillaServer(data, "--model", names[BOUND], mode="serve")
    except BaseException:
        full.stop()
        raise
    yield full, bound, names
    bound.stop()
    full.stop()


def post(url, path, body, content_type):
    return requests.post(url + path, data=body, headers={"Content-Type": content_type}, timeout=60)


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("case_name", CASES)
def test_invocations_answer_as_mlflow_does(servers, case_name, kind):
    full, _, names = servers
    case = case_named(case_name)
    if case is None:
        pytest.skip(f"fixture {case_name} not made")
    body, content_type = payload(kind, case.rows()[:7])
    status, want = mlflow_answer(case.model_dir, body, content_type)
    r = post(full.url, f"/invocations/models/{names[case_name]}", body, content_type)
    assert r.headers["content-type"].startswith("application/json"), r.text[:300]
    if status != 200:
        # pyfunc's ONNX wrapper builds a DataFrame of every output, which fails for an output of
        # several values per row (class probabilities); flotilla answers the outputs by name.
        assert case_name.startswith("onnx-") and kind in ("dataframe_split", "dataframe_records", "csv"), want
        assert r.status_code == 200, r.text[:300]
        _, by_name = mlflow_answer(case.model_dir, *payload("inputs", case.rows()[:7]))
        assert_same(r.json(), by_name, case.rtol)
        return
    assert r.status_code == 200, r.text[:300]
    assert_same(r.json(), want, case.rtol)


def test_a_version_is_named_in_the_path(servers):
    full, _, names = servers
    case = case_named(BOUND)
    body, content_type = payload("dataframe_split", case.rows()[:3])
    _, want = mlflow_answer(case.model_dir, body, content_type)
    r = post(full.url, f"/invocations/models/{names[BOUND]}/versions/1", body, content_type)
    assert r.status_code == 200, r.text
    assert_same(r.json(), want, case.rtol)
    r = post(full.url, f"/invocations/models/{names[BOUND]}/versions/9", body, content_type)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text
    r = post(full.url, f"/invocations/models/{unique('nobody')}", body, content_type)
    assert r.status_code == 404, r.text


def test_serve_model_is_a_drop_in_for_mlflow_models_serve(servers):
    _, bound, _ = servers
    case = case_named(BOUND)
    for path in ("/ping", "/health"):
        r = requests.get(bound.url + path, timeout=30)
        assert (r.status_code, r.text, r.headers["content-type"]) == (200, "\n", "application/json"), path
    assert requests.get(bound.url + "/version", timeout=30).status_code == 200
    rows = case.rows()[:5]
    # What `requests.post(url, json=...)` callers (and SageMaker-style containers) send.
    split = json.loads(payload("dataframe_split", rows)[0])
    r = requests.post(bound.url + "/invocations", json=split, timeout=60)
    assert r.status_code == 200, r.text
    _, want = mlflow_answer(case.model_dir, json.dumps(split), "application/json")
    assert_same(r.json(), want, case.rtol)
    csv_body, _ = payload("csv", rows)
    r = post(bound.url, "/invocations", csv_body, "text/csv; charset=utf-8")
    assert r.status_code == 200, r.text
    assert_same(r.json(), want, case.rtol)
    # V2 stays available beside the scoring protocol.
    assert requests.get(bound.url + "/v2/health/ready", timeout=30).status_code == 200


BAD = [
    ("csv with a short row", "0,1,2,3,4,5,6,7\n1,2,3,4,5,6,7,8\n1,2\n", "text/csv", 400, "Expected 8 fields"),
    ("csv with a long row", "0,1\n1,2,3\n", "text/csv", 400, "Expected 2 fields"),
    ("csv with text for a number", "0,1,2,3,4,5,6,7\n1,2,3,4,five,6,7,8\n", "text/csv", 400, "'five' is not a number"),
    ("json with text for a number", json.dumps({"inputs": [[1, 2, 3, 4, "x", 6, 7, 8]]}), "application/json", 400, "not a number"),
    ("no format field", json.dumps({"data": [[1]]}), "application/json", 400, "exactly one of the input fields"),
    ("two format fields", json.dumps({"inputs": [[1]], "instances": [[1]]}), "application/json", 400, "exactly one"),
    ("a list", "[[1, 2]]", "application/json", 400, "Received a list"),
    ("not json", "{oops", "application/json", 400, "valid JSON"),
    ("too few columns", json.dumps({"inputs": [[1, 2, 3]]}), "application/json", 400, "shape"),
]


@pytest.mark.parametrize("what,body,content_type,status,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_in_mlflow_shape(servers, what, body, content_type, status, fragment):
    _, bound, _ = servers
    r = post(bound.url, "/invocations", body, content_type)
    assert r.status_code == status, f"{what}: {r.status_code} {r.text[:300]}"
    answer = r.json()
    assert answer["error_code"] == "BAD_REQUEST", answer
    assert fragment.lower() in answer["message"].lower(), answer


def test_content_types_and_sizes_are_checked(servers):
    _, bound, _ = servers
    r = post(bound.url, "/invocations", "a=1", "application/x-www-form-urlencoded")
    assert r.status_code == 415 and "only supports the following content types" in r.text, r.text
    r = post(bound.url, "/invocations", "{}", "application/json; charset=latin-1")
    assert r.status_code == 415 and "UTF-8" in r.text, r.text
    # Past the V2 body limit (2 MiB): refused before it is read, in MLflow's shape.
    row = ",".join(["1.5"] * 8)
    big = "0,1,2,3,4,5,6,7\n" + "\n".join([row] * 120_000)
    r = post(bound.url, "/invocations", big, "text/csv")
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error_code"] == "BAD_REQUEST"


def test_serve_model_with_authentication(tmp_path, monkeypatch):
    """`flotilla serve --model` under `--auth basic`: `/ping` is a probe, `/invocations` needs
    credentials (401 in MLflow's shape) and USE on the bound model (403, then 200 once granted)."""
    case = case_named(BOUND)
    password = "pw-" + unique("admin")
    # Its own store (also in the PostgreSQL pass): the admin's password is set at a store's first
    # start, and the shared database's admin was made by an earlier server with another one.
    env = {k: v for k, v in os.environ.items() if k != "FLOTILLA_DATABASE_URL"}
    env.update(FLOTILLA_ADMIN_PASSWORD=password, FLOTILLA_AUTH="basic")
    data = tmp_path / "data"
    full = flotilla_server.start_flotilla(flotilla_server.default_bin(), data, env=env)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        name = Registrar(MlflowClient(tracking_uri=full.url)).register(case.model_dir, unique("auth"), via="artifact_uri")[0]
        admin = ("admin", password)
        r = requests.post(full.url + "/api/2.0/mlflow/users/create", json={"username": "dan", "password": "dan-secret-1"}, auth=admin, timeout=30)
        assert r.status_code == 200, r.text
        bound = flotilla_server.start_flotilla(flotilla_server.default_bin(), data, "--model", name, mode="serve", env=env)
        try:
            body = json.loads(payload("dataframe_split", case.rows()[:2])[0])
            assert requests.get(bound.url + "/ping", timeout=30).status_code == 200
            r = requests.post(bound.url + "/invocations", json=body, timeout=30)
            assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", r.text
            r = requests.post(bound.url + "/invocations", json=body, auth=("dan", "dan-secret-1"), timeout=30)
            assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
            grant = {"username": "dan", "resource_type": "registered_model", "resource_id": name, "permission": "USE"}
            r = requests.post(full.url + "/api/3.0/mlflow/users/permissions/grant", json=grant, auth=admin, timeout=30)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 10
            while True:  # the serve process sees the grant through the shared store
                r = requests.post(bound.url + "/invocations", json=body, auth=("dan", "dan-secret-1"), timeout=30)
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert r.status_code == 200, r.text
            assert len(r.json()["predictions"]) == 2
        finally:
            bound.stop()
    finally:
        full.stop()
