"""Error contract the client depends on: error_code values, and HTTP statuses that are never 5xx."""

import os

import pytest
import requests
from mlflow import MlflowClient

from compat_util import raises_mlflow, unique

MISSING_RUN = "0" * 32


@pytest.fixture(scope="module")
def existing():
    """One experiment, run (with param p=1) and registered model to collide with."""
    client = MlflowClient()
    exp_name = unique("errors")
    exp_id = client.create_experiment(exp_name)
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "p", "1")
    model = unique("errors-model")
    client.create_registered_model(model)
    return {"exp_name": exp_name, "exp_id": exp_id, "run_id": run_id, "model": model}


CASES = [
    # (id, expected error_code, call)
    ("get missing experiment", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.get_experiment("987654321")),
    ("get missing run", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.get_run(MISSING_RUN)),
    ("log to missing run", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.log_metric(MISSING_RUN, "m", 1.0)),
    ("get missing model", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.get_registered_model(unique("nope"))),
    ("get missing version", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.get_model_version(e["model"], "99")),
    ("version of missing model", "RESOURCE_DOES_NOT_EXIST", lambda c, e: c.get_model_version(unique("nope"), "1")),
    ("duplicate registered model", "RESOURCE_ALREADY_EXISTS", lambda c, e: c.create_registered_model(e["model"])),
    ("duplicate experiment", "RESOURCE_ALREADY_EXISTS", lambda c, e: c.create_experiment(e["exp_name"])),
    ("change a param value", "INVALID_PARAMETER_VALUE", lambda c, e: c.log_param(e["run_id"], "p", "2")),
    ("bad comparator", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], "metrics.acc <<< 1")),
    ("OR in run filter", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], "params.a = '1' OR params.a = '2'")),
    ("unknown run attribute", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], "attributes.color = 'red'")),
    ("string metric value", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], "metrics.acc > 'high'")),
    ("bad run order_by", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], order_by=["nonsense.x DESC"])),
    ("bad experiment filter", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_experiments(filter_string="name >>> 'x'")),
    ("bad model filter", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_registered_models("creation_timestamp > 1")),
    ("bad version filter", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_model_versions("current_stage = 'Production'")),
    ("bad runs page token", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], page_token="not-a-token")),
    ("bad experiments page token", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_experiments(page_token="not-a-token")),
    ("bad models page token", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_registered_models(page_token="not-a-token")),
    ("too many runs per page", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_runs([e["exp_id"]], max_results=50_001)),
    ("too many models per page", "INVALID_PARAMETER_VALUE", lambda c, e: c.search_registered_models(max_results=1_001)),
    ("non-numeric version", "INVALID_PARAMETER_VALUE", lambda c, e: c.get_model_version(e["model"], "one")),
]


@pytest.mark.parametrize(("error_code", "call"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_client_sees_error_code(client, existing, error_code, call):
    with raises_mlflow(error_code):
        call(client, existing)


def test_missing_experiment_by_name_is_none(client):
    """get-by-name must answer 404 RESOURCE_DOES_NOT_EXIST; the client turns that into None."""
    assert client.get_experiment_by_name(unique("nope")) is None


# Raw HTTP: the status codes behind the error codes (the client's retry policy depends on them).
HTTP_CASES = [
    ("GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": "987654321"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.0/mlflow/experiments/get-by-name", {"experiment_name": "compat-never-made"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.0/mlflow/runs/get", {"run_id": MISSING_RUN}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "/api/2.0/mlflow/registered-models/get", {"name": "compat-never-made"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "filter": "metrics.x <<< 1"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "page_token": "garbage"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"], "max_results": 50_001}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "/api/2.0/mlflow/registered-models/search", {"max_results": 1_001}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "/api/2.0/mlflow/model-versions/get", {"name": "compat-never-made", "version": "x"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "/api/2.0/mlflow/experiments/create", {}, 400, "INVALID_PARAMETER_VALUE"),  # name is required
]


@pytest.mark.parametrize(("method", "path", "body", "status", "error_code"), HTTP_CASES)
def test_http_status_and_json_error(method, path, body, status, error_code):
    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + path
    if method == "GET":
        response = requests.get(url, params=body, timeout=30)
    else:
        response = requests.post(url, json=body, timeout=30)

    assert response.status_code == status, response.text
    assert response.json()["error_code"] == error_code
    assert response.json()["message"]


def test_duplicate_registered_model_is_400_not_409(existing):
    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/registered-models/create"
    response = requests.post(url, json={"name": existing["model"]}, timeout=30)
    assert (response.status_code, response.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
