"""The wire itself: encodings, prefixes, methods, malformed bodies, as raw REST calls."""

from recorder import API, API3


def _create(c, label, **kw):
    """An experiments/create whose id (if any) is remembered under the label."""
    r = c.post(label, "/experiments/create", **kw)
    c.remember((r.data or {}).get("experiment_id"), label)


def wire(c):
    r = c.post("create experiment", "/experiments/create", {"name": "diff-wire"})
    exp = c.remember((r.data or {}).get("experiment_id"), "exp")
    c.get("api 3.0 prefix", f"{API3}/experiments/get", {"experiment_id": exp})
    c.get("ajax prefix", "/ajax-api/2.0/mlflow/experiments/get", {"experiment_id": exp})
    c.get("id as number in query", "/experiments/get", {"experiment_id": int(exp or 0)})
    c.post("id as number in body", "/experiments/set-experiment-tag", {"experiment_id": int(exp or 0), "key": "n", "value": "1"})
    c.post("both spellings", "/runs/create", {"experiment_id": exp, "experimentId": exp})
    _create(c, "camelCase only", body={"name": "diff-camel", "artifactLocation": ""})
    _create(c, "unknown field", body={"name": "diff-unknown-field", "colour": "red"})
    _create(c, "malformed json", raw_body=b"{not json",
           headers={"Content-Type": "application/json"})
    _create(c, "json array body", raw_body=b"[1, 2]", headers={"Content-Type": "application/json"})
    _create(c, "json string body", raw_body=b'"{\\"name\\": \\"diff-double\\"}"',
           headers={"Content-Type": "application/json"})
    _create(c, "empty body", raw_body=b"", headers={"Content-Type": "application/json"})
    _create(c, "no content type", raw_body=b'{"name": "diff-noct"}', headers={"Content-Type": ""})
    _create(c, "text/plain", raw_body=b'{"name": "diff-text"}', headers={"Content-Type": "text/plain"})
    _create(c, "charset content type", raw_body=b'{"name": "diff-charset"}',
           headers={"Content-Type": "application/json; charset=utf-8"})
    _create(c, "wrong type list", body={"name": "diff-wrong-tags", "tags": "nope"})
    _create(c, "wrong type nested", body={"name": "diff-wrong-tag", "tags": [{"key": 1, "value": 2}]})
    c.get("number as text", "/registered-models/search", {"max_results": "5", "filter": "name = 'diff-model-a'"})
    c.get("repeated query key", "/experiments/get", [("experiment_id", exp), ("experiment_id", "0")])
    c.get("unknown endpoint", f"{API}/nope")
    c.call("wrong method", "DELETE", "/experiments/get", params={"experiment_id": exp})
    c.call("get on post endpoint", "GET", "/experiments/create", params={"name": "x"})
    c.get("health", "/health")
    c.get("version", "/version")
    c.get("server info", f"{API3}/server-info")


SCENARIOS = [("wire", wire)]
