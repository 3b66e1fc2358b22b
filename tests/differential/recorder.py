"""Sending a scenario's raw REST calls to one server and recording every answer, normalised.

A scenario is a function `scenario(c)` that makes its calls through a `Recorder` `c`; it runs
once against MLflow and once against flotilla, each with its own recorder, and the two lists of
`Call`s are compared afterwards (compare.py). Ids differ between the servers, so a scenario
names each id it gets (`c.remember(value, "run:a")`): normalisation replaces the value by the
name everywhere it appears (whole strings, and inside URIs). Timestamps the servers choose
(integers over 10^12 in a field whose name says time) become "<now>", generated run names
("adjective-animal-123") become "<generated>", the host part of http URLs "<host>".
"""

import json
import re
import time
from dataclasses import dataclass

import requests

API = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
GENERATED_NAME = re.compile(r"^[a-z]+-[a-z]+-\d{1,3}$")
SERVER_TIME = 10**12
TIME_FIELD = re.compile(r"time|timestamp", re.I)
URL_HOST = re.compile(r"https?://127\.0\.0\.1:\d+")
# Lists whose order carries no meaning in MLflow (sets keyed by `key`/`alias`); sorted before
# comparing. Search results, version lists and metric histories (the `metrics` of a
# get-history answer, unlike a run's latest `metrics`) keep their order.
UNORDERED = {"tags", "params", "aliases", "metrics", "latest_metrics"}


@dataclass
class Call:
    """One request and its normalised answer."""

    label: str
    method: str
    path: str
    request: object
    status: int
    body: object  # parsed JSON, or {"<bytes>": text} for a non-JSON answer
    history: bool = False  # a metric history, whose `metrics` list is ordered


class Recorder:
    """Sends calls to one server (`base` URL) and keeps them, in order, as `Call`s."""

    def __init__(self, name, base):
        self.name = name
        self.base = base
        self.http = requests.Session()
        self.calls = []
        self._labels = set()
        self._ids = {}
        self.seconds = 0.0  # time spent waiting for answers

    # ---- ids -------------------------------------------------------------------------------
    def remember(self, value, name):
        """Names a server-chosen id so normalisation shows `<name>` instead of the value."""
        if value is not None and value != "":
            self._ids[str(value)] = f"<{name}>"
        return value

    # ---- calls -----------------------------------------------------------------------------
    def get(self, label, path, params=None, **kw):
        return self.call(label, "GET", path, params=params, **kw)

    def post(self, label, path, body=None, **kw):
        return self.call(label, "POST", path, body=body, **kw)

    def patch(self, label, path, body=None, **kw):
        return self.call(label, "PATCH", path, body=body, **kw)

    def delete(self, label, path, body=None, **kw):
        return self.call(label, "DELETE", path, body=body, **kw)

    def put(self, label, path, data, **kw):
        return self.call(label, "PUT", path, data=data, **kw)

    def call(self, label, method, path, params=None, body=None, data=None, raw_body=None,
             headers=None, api=API):
        """Sends one request; returns the raw `requests.Response` (with `.data`: parsed JSON or
        None) and records the normalised call under `label` (unique within the scenario)."""
        if label in self._labels:
            raise ValueError(f"duplicate call label {label!r}")
        self._labels.add(label)
        absolute = path.startswith(("/api/", "/ajax-api/", "/health", "/version"))
        url = self.base + (path if absolute else api + path)
        kwargs = {"params": params, "headers": dict(headers or {}), "timeout": 60}
        if raw_body is not None:
            kwargs["data"] = raw_body
        elif data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["json"] = body
        started = time.monotonic()
        resp = self.http.request(method, url, **kwargs)
        self.seconds += time.monotonic() - started
        try:
            resp.data = resp.json()
        except ValueError:
            resp.data = None
        if resp.data is not None:
            parsed = resp.data
        else:
            ctype = resp.headers.get("content-type", "").split(";")[0]
            text = resp.content[:200].decode("utf-8", "replace")
            parsed = {"<bytes>": text if resp.status_code < 300 else f"<non-JSON {ctype or 'answer'}>"}
        self.calls.append(Call(label, method, path, body if body is not None else params,
                               resp.status_code, parsed, history="get-history" in path))
        return resp

    # ---- normalisation ---------------------------------------------------------------------
    def normalised(self):
        """The recorded calls with ids, server times, generated names and hosts replaced."""
        long_ids = sorted((v for v in self._ids if len(v) >= 8), key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(v) for v in long_ids)) if long_ids else None
        # short ids (experiment ids) only as a URI's path segment: mlflow-artifacts:/3/...
        short = {v: n for v, n in self._ids.items() if len(v) < 8}
        in_uri = re.compile(r"(?<=:/)(\d+)(?=/|$)")

        def text(s):
            if s in self._ids:
                return self._ids[s]
            if pattern is not None:
                s = pattern.sub(lambda m: self._ids[m.group(0)], s)
            s = in_uri.sub(lambda m: short.get(m.group(1), m.group(1)), s)
            s = URL_HOST.sub("<host>", s)
            return "<generated>" if GENERATED_NAME.match(s) else s

        def walk(value, key, history):
            if isinstance(value, dict):
                return {k: walk(v, k, history) for k, v in value.items()}
            if isinstance(value, list):
                items = [walk(v, key, history) for v in value]
                if key in UNORDERED and not (key == "metrics" and history):
                    items.sort(key=lambda v: json.dumps(v, sort_keys=True))
                return items
            if isinstance(value, str):
                # page tokens are opaque: only whether there is one compares
                return "<token>" if key in ("next_page_token", "page_token") else text(value)
            if isinstance(value, int) and not isinstance(value, bool) and value > SERVER_TIME \
                    and key and TIME_FIELD.search(key):
                return "<now>"
            return value

        return [Call(c.label, c.method, c.path, c.request, c.status, walk(c.body, None, c.history), c.history)
                for c in self.calls]
