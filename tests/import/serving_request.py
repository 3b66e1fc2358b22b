"""The two flotilla-only HTTP calls the import test makes: V2 inference and a fleet search."""

import json
import urllib.parse
import urllib.request

import numpy as np


def call(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def infer(url, name, version, rows):
    """The `predict` output of `POST /v2/models/{name}/versions/{version}/infer` for FP32 rows."""
    rows = np.asarray(rows, dtype=np.float32)
    body = {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.reshape(-1).tolist()}]}
    path = f"/v2/models/{urllib.parse.quote(name)}/versions/{urllib.parse.quote(str(version))}/infer"
    outputs = {o["name"]: o for o in call(url, "POST", path, body)["outputs"]}
    return np.asarray(outputs["predict"]["data"], dtype=np.float64)


def fleet_models(url, **query):
    """Every model `GET /api/fleet/v1/models` finds for this query."""
    models, token = [], None
    while True:
        q = dict(query, **({"page_token": token} if token else {}))
        page = call(url, "GET", "/api/fleet/v1/models?" + urllib.parse.urlencode(q))
        models += page["models"]
        token = page.get("next_page_token")
        if not token:
            return models
