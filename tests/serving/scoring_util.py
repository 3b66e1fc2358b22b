"""MLflow's own scoring server, run in-process on a fixture model, as the reference the
scoring-protocol tests compare flotilla with (imported, not a test module)."""

import functools
import json
import math

import numpy as np
import pandas as pd

from mlflow.exceptions import MlflowException
from mlflow.models import convert_input_example_to_serving_input

PAYLOADS = ("dataframe_split", "dataframe_records", "instances", "inputs", "csv")


def payload(kind, rows, columns=None):
    """(body, content type) of one request format for `rows`, as callers write them."""
    rows = np.asarray(rows)
    df = pd.DataFrame(rows, columns=columns)
    df.columns = [str(c) for c in df.columns]
    if kind == "dataframe_split":
        return convert_input_example_to_serving_input(df), "application/json"
    if kind == "dataframe_records":
        return json.dumps({"dataframe_records": df.to_dict(orient="records")}), "application/json"
    if kind in ("instances", "inputs"):
        return json.dumps({kind: rows.tolist()}), "application/json"
    if kind == "csv":
        return df.to_csv(index=False), "text/csv"
    raise ValueError(kind)


@functools.lru_cache(maxsize=None)
def _pyfunc(model_dir):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir))


def mlflow_answer(model_dir, body, content_type):
    """(status, JSON body) of `mlflow models serve`'s `/invocations` for this request."""
    from mlflow.pyfunc import scoring_server

    model = _pyfunc(model_dir)
    try:
        r = scoring_server.invocations(body, content_type, model, model.metadata.get_input_schema())
    except MlflowException as e:
        return e.get_http_status_code(), json.loads(e.serialize_as_json())
    return r.status, json.loads(r.response) if r.mimetype == "application/json" else r.response


def assert_same(got, want, rtol, where="predictions"):
    """The same JSON structure, numbers within rtol (NaN and null alike)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys {got!r} vs {want!r}"
        for k in want:
            assert_same(got[k], want[k], rtol, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {str(got)[:200]} vs {str(want)[:200]}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, f"{where}[{i}]")
    elif want is None or (isinstance(want, float) and math.isnan(want)):
        assert got is None or (isinstance(got, float) and math.isnan(got)), f"{where}: {got!r} vs NaN"
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert isinstance(got, (int, float)), f"{where}: {got!r} vs {want!r}"
        assert math.isclose(got, want, rel_tol=rtol, abs_tol=rtol), f"{where}: {got!r} vs {want!r}"
    else:
        assert got == want, f"{where}: {got!r} vs {want!r}"
