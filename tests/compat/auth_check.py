"""The real mlflow clients against flotilla with `--auth basic` (run by run.sh's auth pass).

Not collected by the no-auth suite (the name is not test_*.py); run.sh passes it explicitly,
with a server started with `--auth basic` and FLOTILLA_ADMIN_PASSWORD = ADMIN_PASSWORD.
The client reads its credentials from the environment on every request, so each test sets
them: MLFLOW_TRACKING_USERNAME/PASSWORD (Basic) or MLFLOW_TRACKING_TOKEN (Bearer).
"""

import os

import mlflow
import mlflow.pyfunc
import mlflow.server
import mlflow.xgboost
import numpy as np
import pytest
import requests
import xgboost as xgb
from mlflow import MlflowClient

from compat_util import IS_MLFLOW3, model_name_kwarg, raises_mlflow, unique

URI = os.environ["MLFLOW_TRACKING_URI"]
ADMIN = (os.environ.get("ADMIN_USER", "admin"), os.environ["ADMIN_PASSWORD"])
CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def as_user(user, password):
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password


def as_token(token):
    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    os.environ["MLFLOW_TRACKING_TOKEN"] = token


def anonymous():
    for var in CREDENTIAL_VARS:
        os.environ.pop(var, None)


@pytest.fixture(autouse=True)
def _admin_by_default():
    as_user(*ADMIN)
    yield
    as_user(*ADMIN)


def new_token(scope):
    """A flotilla token of the admin's, from the token route (the plaintext is shown once)."""
    r = requests.post(f"{URI}/api/fleet/v1/tokens", auth=ADMIN, json={"name": unique("t"), "scope": scope})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_basic_credentials_track_log_register_and_load_a_model():
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("auth"))
    X = np.random.RandomState(3).rand(32, 3)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=X[:, 0]), num_boost_round=4)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("depth", 2)
        mlflow.log_metric("rmse", 0.5)
        info = mlflow.xgboost.log_model(booster, **model_name_kwarg("model"), pip_requirements=["xgboost"])
    name = unique("auth-model")
    version = mlflow.register_model(info.model_uri, name)
    assert version.version == "1"
    assert client.get_run(run.info.run_id).data.metrics == {"rmse": 0.5}
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")  # artifacts download with the credentials
    assert np.allclose(loaded.predict(X[:4]), booster.predict(xgb.DMatrix(X[:4])))


def test_without_or_with_wrong_credentials_the_client_sees_unauthenticated():
    client = MlflowClient()
    anonymous()
    with raises_mlflow("UNAUTHENTICATED"):
        client.search_experiments()
    as_user(ADMIN[0], "not-the-password")
    with raises_mlflow("UNAUTHENTICATED"):
        client.create_experiment(unique("nope"))


def test_a_flotilla_token_works_as_mlflow_tracking_token():
    write, read = new_token("write"), new_token("read")
    client = MlflowClient()
    as_token(write)
    experiment_id = client.create_experiment(unique("by-token"))
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "m", 1.0)
    as_token(read)
    assert client.get_experiment(experiment_id).experiment_id == experiment_id
    client.search_runs([experiment_id])  # a POST search: allowed to a read token
    with raises_mlflow("PERMISSION_DENIED"):
        client.create_experiment(unique("read-token-write"))


def test_the_auth_client_manages_users():
    auth = mlflow.server.get_app_client("basic-auth", tracking_uri=URI)
    client = MlflowClient()
    bob, pw1, pw2 = unique("bob"), "correct-horse-1", "correct-horse-2"
    user = auth.create_user(bob, pw1)
    assert (user.username, user.is_admin, user.password_hash) == (bob, False, "REDACTED")
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        auth.create_user(bob, pw1)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        auth.create_user(bob + "x", "short")
    assert auth.get_user(bob).id == user.id
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        auth.get_user("nobody-" + bob)
    auth.update_user_admin(bob, True)
    assert auth.get_user(bob).is_admin is True
    auth.update_user_admin(bob, False)
    assert auth.get_user(bob).is_admin is False
    auth.update_user_password(bob, pw2)  # an admin sets it

    as_user(bob, pw1)
    with raises_mlflow("UNAUTHENTICATED"):
        client.search_experiments()
    as_user(bob, pw2)
    client.search_experiments()
    assert auth.get_user(bob).username == bob  # self: allowed
    with raises_mlflow("PERMISSION_DENIED"):
        auth.get_user(ADMIN[0])
    with raises_mlflow("PERMISSION_DENIED"):
        auth.create_user("eve-" + bob, pw1)
    if IS_MLFLOW3:
        with raises_mlflow("INVALID_PARAMETER_VALUE"):
            auth.update_user_password(bob, pw1, current_password="not-the-password")
        auth.update_user_password(bob, pw1, current_password=pw2)
    else:
        auth.update_user_password(bob, pw1)
    as_user(bob, pw1)
    client.search_experiments()

    as_user(*ADMIN)
    auth.delete_user(bob)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        auth.delete_user(bob)
    as_user(bob, pw1)
    with raises_mlflow("UNAUTHENTICATED"):
        client.search_experiments()


def test_a_write_by_the_client_is_in_the_audit_trail_under_its_user():
    """The trail names the authenticated user of a write made by the real client, its token and address."""
    token = new_token("write")
    as_token(token)
    name = unique("audited")
    MlflowClient().create_registered_model(name, description="from the real client")
    r = requests.get(
        f"{URI}/api/fleet/v1/audit/events",
        auth=ADMIN,
        params={"action": "registered_model.create", "resource_id": name},
    )
    assert r.status_code == 200, r.text
    [event] = r.json()["events"]
    assert (event["actor"], event["method"], event["token_id"]) == (ADMIN[0], "token", token[4:12]), event
    assert event["client"] == "127.0.0.1" and event["request_id"], event
    assert event["after"]["description"] == "from the real client", event


def _grant(auth, user, kind, resource, level):
    """Grant through whichever routes this client speaks: 3.x grant, or 2.x per-resource create."""
    if IS_MLFLOW3:
        auth.grant_user_permission(user, kind, resource, level)
    elif kind == "experiment":
        auth.create_experiment_permission(resource, user, level)
    else:
        auth.create_registered_model_permission(resource, user, level)


def _revoke(auth, user, kind, resource):
    if IS_MLFLOW3:
        auth.revoke_user_permission(user, kind, resource)
    elif kind == "experiment":
        auth.delete_experiment_permission(resource, user)
    else:
        auth.delete_registered_model_permission(resource, user)


def _level(auth, user, kind, resource):
    if IS_MLFLOW3:
        return auth.get_user_permission(user, kind, resource).permission
    if kind == "experiment":
        return auth.get_experiment_permission(resource, user).permission
    return auth.get_registered_model_permission(resource, user).permission


def test_the_auth_client_grants_revokes_and_reads_permissions():
    """The server runs with the default permission READ (MLflow's)."""
    auth = mlflow.server.get_app_client("basic-auth", tracking_uri=URI)
    client = MlflowClient()
    carl, pw = unique("carl"), "correct-horse-9"
    auth.create_user(carl, pw)
    exp_id = client.create_experiment(unique("perm-exp"))
    model = unique("perm-model")
    client.create_registered_model(model)

    as_user(carl, pw)
    client.get_experiment(exp_id)  # the default, READ
    client.get_registered_model(model)
    with raises_mlflow("PERMISSION_DENIED"):
        client.set_experiment_tag(exp_id, "k", "v")
    with raises_mlflow("PERMISSION_DENIED"):
        client.set_registered_model_tag(model, "k", "v")
    with raises_mlflow("PERMISSION_DENIED"):  # managing grants needs MANAGE
        _grant(auth, carl, "experiment", exp_id, "EDIT")
    as_user(*ADMIN)

    _grant(auth, carl, "experiment", exp_id, "EDIT")
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        _grant(auth, carl, "experiment", exp_id, "EDIT")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        _grant(auth, carl, "experiment", exp_id, "BOGUS")
    assert _level(auth, carl, "experiment", exp_id) == "EDIT"
    as_user(carl, pw)
    client.set_experiment_tag(exp_id, "k", "v")
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "m", 1.0)
    as_user(*ADMIN)
    _revoke(auth, carl, "experiment", exp_id)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        _revoke(auth, carl, "experiment", exp_id)

    # A veto hides the experiment and its runs, and search leaves it out.
    _grant(auth, carl, "experiment", exp_id, "DENY" if IS_MLFLOW3 else "NO_PERMISSIONS")
    as_user(carl, pw)
    with raises_mlflow("PERMISSION_DENIED"):
        client.get_experiment(exp_id)
    with raises_mlflow("PERMISSION_DENIED"):
        client.get_run(run.info.run_id)
    assert exp_id not in [e.experiment_id for e in client.search_experiments(max_results=1000)]
    assert client.search_runs([exp_id]) == []
    as_user(*ADMIN)
    _revoke(auth, carl, "experiment", exp_id)

    # MANAGE on a model: carl may edit it and manage its grants.
    _grant(auth, carl, "registered_model", model, "MANAGE")
    assert _level(auth, carl, "registered_model", model) == "MANAGE"
    as_user(carl, pw)
    client.set_registered_model_tag(model, "k", "v")
    assert _level(auth, carl, "registered_model", model) == "MANAGE"
    as_user(*ADMIN)
    _revoke(auth, carl, "registered_model", model)
    _grant(auth, carl, "registered_model", model, "DENY" if IS_MLFLOW3 else "NO_PERMISSIONS")
    as_user(carl, pw)
    with raises_mlflow("PERMISSION_DENIED"):
        client.get_registered_model(model)
    assert model not in [m.name for m in client.search_registered_models(max_results=1000)]
    as_user(*ADMIN)
    assert model in [m.name for m in client.search_registered_models(max_results=1000)]  # admins see all

    # The creator gets MANAGE on what they create.
    as_user(carl, pw)
    own = client.create_experiment(unique("carl-own"))
    assert _level(auth, carl, "experiment", own) == "MANAGE"
    client.delete_experiment(own)
    as_user(*ADMIN)
    auth.delete_user(carl)
