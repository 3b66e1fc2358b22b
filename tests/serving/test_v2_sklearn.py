"""Hostile scikit-learn pickles registered on the server: each is refused with
400 naming the global it would have called, and nothing in it runs (the
marker file its payload would create never appears, while unpickling the same
bytes in Python does create it). The trained sklearn-* fixtures are served and
compared with scikit-learn by test_v2_triton.py like every other case."""

import os
import pickle
import subprocess
import time

import numpy as np
import pytest

from serving_util import assert_error, infer_body, post_json, request, unique


class Reduce:
    """Unpickling this calls `call(*args)`."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def in_pipeline(marker):
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.random.default_rng(0).normal(size=(30, 3))
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(x, x[:, 0])
    pipe.steps.insert(1, ("evil", Reduce(os.system, f"touch {marker}")))
    return pipe


SYSTEM = f"{os.system.__module__}.system"
PAYLOADS = {
    "os-system": (lambda m: Reduce(os.system, f"touch {m}"), SYSTEM),
    "eval": (lambda m: Reduce(eval, f"open({str(m)!r}, 'w').close()"), "builtins.eval"),
    "popen": (lambda m: Reduce(subprocess.Popen, ["touch", str(m)]), "subprocess.Popen"),
    "in-pipeline": (in_pipeline, SYSTEM),
}


def wait_for(path, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_hostile_pickle_runs_nothing(url, registrar, tmp_path, kind):
    payload, global_name = PAYLOADS[kind]
    marker = tmp_path / "ran.marker"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.pkl").write_bytes(pickle.dumps(payload(marker), protocol=4))
    (model_dir / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n"
    )
    name = registrar.register(model_dir, unique(f"hostile-{kind}"))[0]
    rows = np.zeros((2, 3))
    r = post_json(url, f"/v2/models/{name}/infer", infer_body("input", rows, datatype="FP64"))
    assert_error(r, 400, f"refuses global {global_name}")
    assert_error(request(url, "GET", f"/v2/models/{name}"), 400, global_name)
    assert not wait_for(marker, 1.0), "the hostile pickle ran in the server"

    # The control: the same payload is real (Python's unpickler runs it).
    control = tmp_path / "control.marker"
    ran = pickle.loads(pickle.dumps(payload(control), protocol=4))
    if isinstance(ran, subprocess.Popen):
        ran.wait()
    assert wait_for(control), "the payload did not run under pickle.loads; the test proves nothing"
