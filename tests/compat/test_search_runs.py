"""search_runs: filters on metrics, params, tags and attributes; ordering; paging."""

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import RunStatus

from compat_util import collect_pages, unique

START = 1_700_000_000_000  # run i starts at START + i seconds

# name, acc, model param, team tag, final status
RUNS = [
    ("r0", 0.10, "linear", "red", "FINISHED"),
    ("r1", 0.55, "xgb", "blue", "FINISHED"),
    ("r2", 0.30, "linear", "red", "FAILED"),
    ("r3", 0.90, "xgb", "red", "FINISHED"),
    ("r4", 0.75, "forest", "blue", "KILLED"),
    ("r5", 0.45, "Linear-SVM", "green", "RUNNING"),
]


@pytest.fixture(scope="module")
def runs_experiment():
    client = MlflowClient()
    exp_id = client.create_experiment(unique("search"))
    for i, (name, acc, model, team, status) in enumerate(RUNS):
        run = client.create_run(exp_id, run_name=name, start_time=START + i * 1000, tags={"team": team})
        client.log_metric(run.info.run_id, "acc", acc)
        client.log_param(run.info.run_id, "model", model)
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status=status, end_time=START + i * 1000 + 500)
    return exp_id


def names(runs):
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.5", ["r1", "r3", "r4"]),
        ("metrics.acc >= 0.3 AND metrics.acc < 0.6", ["r1", "r2", "r5"]),
        ("metrics.acc = 0.9", ["r3"]),
        ("metrics.acc != 0.9", ["r0", "r1", "r2", "r4", "r5"]),
        ("params.model = 'xgb'", ["r1", "r3"]),
        ("params.model != 'xgb'", ["r0", "r2", "r4", "r5"]),
        ("params.model LIKE 'lin%'", ["r0", "r2"]),
        ("params.model ILIKE 'lin%'", ["r0", "r2", "r5"]),
        ("param.model = 'forest'", ["r4"]),
        ("tags.team = 'red'", ["r0", "r2", "r3"]),
        ("tag.team ILIKE 'B%'", ["r1", "r4"]),
        ("tags.team = 'red' AND metrics.acc > 0.2", ["r2", "r3"]),
        ("attributes.status = 'FAILED'", ["r2"]),
        ("attributes.status != 'FINISHED'", ["r2", "r4", "r5"]),
        ("attributes.run_name = 'r4'", ["r4"]),
        ("run_name LIKE 'r%'", ["r0", "r1", "r2", "r3", "r4", "r5"]),
        (f"attributes.start_time >= {START + 3000}", ["r3", "r4", "r5"]),
        (f"attributes.start_time < {START + 2000}", ["r0", "r1"]),
        ("params.model = 'xgb' AND tags.team = 'blue' AND attributes.status = 'FINISHED'", ["r1"]),
        ("tags.missing = 'x'", []),
    ],
)
def test_filter(client, runs_experiment, filter_string, expected):
    found = client.search_runs([runs_experiment], filter_string=filter_string)
    assert sorted(names(found)) == expected


def test_filter_by_run_id_in(client, runs_experiment):
    everything = client.search_runs([runs_experiment])
    by_name = {r.info.run_name: r.info.run_id for r in everything}
    wanted = f"('{by_name['r1']}', '{by_name['r4']}')"

    found = client.search_runs([runs_experiment], filter_string=f"attributes.run_id IN {wanted}")

    assert sorted(names(found)) == ["r1", "r4"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([], ["r5", "r4", "r3", "r2", "r1", "r0"]),  # default: start_time DESC
        (["metrics.acc DESC"], ["r3", "r4", "r1", "r5", "r2", "r0"]),
        (["metrics.acc ASC"], ["r0", "r2", "r5", "r1", "r4", "r3"]),
        (["params.model ASC", "attributes.start_time DESC"], ["r5", "r4", "r2", "r0", "r3", "r1"]),
        (["attributes.start_time ASC"], ["r0", "r1", "r2", "r3", "r4", "r5"]),
        (["tags.team DESC", "metrics.acc DESC"], ["r3", "r2", "r0", "r5", "r4", "r1"]),
        (["attributes.run_name DESC"], ["r5", "r4", "r3", "r2", "r1", "r0"]),
    ],
)
def test_order_by(client, runs_experiment, order_by, expected):
    found = client.search_runs([runs_experiment], order_by=order_by)
    assert names(found) == expected


def test_paging(client, runs_experiment):
    found, sizes = collect_pages(
        lambda **kw: client.search_runs([runs_experiment], order_by=["metrics.acc DESC"], **kw), 4
    )

    assert names(found) == ["r3", "r4", "r1", "r5", "r2", "r0"]
    assert sizes == [4, 2]


def test_search_returns_latest_metric_params_and_tags(client, runs_experiment):
    (run,) = client.search_runs([runs_experiment], filter_string="attributes.run_name = 'r3'")
    assert run.data.metrics == {"acc": 0.90}
    assert run.data.params == {"model": "xgb"}
    assert run.data.tags["team"] == "red"
    assert run.info.status == "FINISHED"
    assert RunStatus.is_terminated(RunStatus.from_string(run.info.status))


def test_fluent_search_runs_list(runs_experiment):
    found = mlflow.search_runs(
        experiment_ids=[runs_experiment], filter_string="metrics.acc > 0.5", output_format="list"
    )
    assert sorted(names(found)) == ["r1", "r3", "r4"]


def test_fluent_search_runs_dataframe(runs_experiment):
    pd = pytest.importorskip("pandas")

    df = mlflow.search_runs(experiment_ids=[runs_experiment], order_by=["metrics.acc DESC"])

    assert isinstance(df, pd.DataFrame)
    assert list(df["tags.mlflow.runName"]) == ["r3", "r4", "r1", "r5", "r2", "r0"]
    assert list(df["metrics.acc"]) == [0.90, 0.75, 0.55, 0.45, 0.30, 0.10]
    assert list(df["params.model"]) == ["xgb", "forest", "xgb", "Linear-SVM", "linear", "linear"]
    assert list(df["status"]) == ["FINISHED", "KILLED", "FINISHED", "RUNNING", "FAILED", "FINISHED"]


def test_search_across_experiments(client, runs_experiment):
    other = client.create_experiment(unique("search-other"))
    client.create_run(other, run_name="elsewhere", start_time=START + 10_000)

    found = client.search_runs([runs_experiment, other], filter_string=f"attributes.start_time >= {START + 5000}")

    assert names(found) == ["elsewhere", "r5"]
