"""Helpers shared by the compatibility tests (imported, not a test module)."""

import contextlib
import os
import uuid

import mlflow
import pytest
from mlflow.exceptions import MlflowException

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
IS_MLFLOW3 = MLFLOW_MAJOR >= 3

# COMPAT_STRICT=1 (set by run.sh when it starts flotilla) turns on the few assertions where
# flotilla is deliberately stricter than MLflow 3.17.2; without it they accept both behaviours.
STRICT = os.environ.get("COMPAT_STRICT") == "1"


def unique(prefix):
    """A name no other test (or earlier run against the same server) uses."""
    return f"compat-{prefix}-{uuid.uuid4().hex[:12]}"


def model_name_kwarg(name):
    """3.x log_model takes `name=`, 2.x takes `artifact_path=`."""
    return {"name": name} if IS_MLFLOW3 else {"artifact_path": name}


@contextlib.contextmanager
def raises_mlflow(error_code):
    """Expect an MlflowException carrying `error_code` (e.g. "RESOURCE_DOES_NOT_EXIST")."""
    with pytest.raises(MlflowException) as info:
        yield info
    assert info.value.error_code == error_code, f"{info.value.error_code}: {info.value.message}"


def collect_pages(search, page_size, **kwargs):
    """Call a paged search until the token runs out; return (all items, page sizes)."""
    items, sizes, token = [], [], None
    while True:
        page = search(max_results=page_size, page_token=token, **kwargs)
        items.extend(page)
        sizes.append(len(page))
        token = page.token
        if not token:
            return items, sizes
        assert len(sizes) < 1000, "paging does not terminate"
