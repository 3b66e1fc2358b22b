"""Experiment lifecycle and search, as the client drives it."""

import mlflow
from mlflow.entities import ViewType

from compat_util import IS_MLFLOW3, collect_pages, unique


def test_create_with_tags_then_get_and_get_by_name(client):
    name = unique("exp")
    exp_id = client.create_experiment(name, tags={"team": "fleet", "tier": "1"})

    by_id = client.get_experiment(exp_id)
    by_name = client.get_experiment_by_name(name)

    assert isinstance(exp_id, str) and exp_id
    for exp in (by_id, by_name):
        assert exp.experiment_id == exp_id
        assert exp.name == name
        assert exp.lifecycle_stage == "active"
        assert exp.tags == {"team": "fleet", "tier": "1"}
        assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
        assert exp.creation_time > 0
        assert exp.last_update_time >= exp.creation_time


def test_rename(client, experiment_id):
    new_name = unique("renamed")

    client.rename_experiment(experiment_id, new_name)

    assert client.get_experiment(experiment_id).name == new_name
    assert client.get_experiment_by_name(new_name).experiment_id == experiment_id


def test_set_and_delete_tag(client, experiment_id):
    client.set_experiment_tag(experiment_id, "a", "1")
    client.set_experiment_tag(experiment_id, "b", "2")
    client.set_experiment_tag(experiment_id, "a", "overwritten")
    assert client.get_experiment(experiment_id).tags == {"a": "overwritten", "b": "2"}

    if IS_MLFLOW3:  # MlflowClient.delete_experiment_tag does not exist in 2.x
        client.delete_experiment_tag(experiment_id, "a")
        assert client.get_experiment(experiment_id).tags == {"b": "2"}


def test_delete_and_restore(client):
    name = unique("exp")
    exp_id = client.create_experiment(name)
    name_filter = f"name = '{name}'"

    def visible(view_type):
        return [e.experiment_id for e in client.search_experiments(view_type, filter_string=name_filter)]

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert visible(ViewType.ACTIVE_ONLY) == []
    assert visible(ViewType.DELETED_ONLY) == [exp_id]
    assert visible(ViewType.ALL) == [exp_id]

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert visible(ViewType.ACTIVE_ONLY) == [exp_id]
    assert visible(ViewType.DELETED_ONLY) == []


def test_set_experiment_creates_a_new_one_then_reuses_it(client):
    name = unique("fluent")
    assert client.get_experiment_by_name(name) is None

    created = mlflow.set_experiment(name)
    again = mlflow.set_experiment(name)

    assert created.name == name
    assert again.experiment_id == created.experiment_id
    assert client.get_experiment_by_name(name).experiment_id == created.experiment_id


def _make_group(client, size=7):
    """`size` experiments sharing a name prefix; even-numbered ones tagged parity=even."""
    prefix = unique("grp")
    ids = {}
    for i in range(size):
        name = f"{prefix}-{i:02d}"
        ids[name] = client.create_experiment(name, tags={"parity": "even" if i % 2 == 0 else "odd"})
    return prefix, ids


def test_search_filters(client):
    prefix, ids = _make_group(client)
    names = sorted(ids)
    cases = [
        (f"name = '{names[3]}'", [names[3]]),
        (f"attribute.name = '{names[3]}'", [names[3]]),
        (f"name LIKE '{prefix}-0%'", names),
        (f"name ILIKE '{prefix.upper()}-0%'", names),
        (f"name LIKE '{prefix}-%' AND tags.parity = 'even'", names[0::2]),
        (f"name LIKE '{prefix}-%' AND tags.parity != 'even'", names[1::2]),
        (f"name LIKE '{prefix}-%' AND tags.parity LIKE 'o%'", names[1::2]),
        (f"name LIKE '{prefix}-%' AND name != '{names[0]}'", names[1:]),
        (f"experiment_id = '{ids[names[2]]}'", [names[2]]),
        (f"name = '{prefix}-nope'", []),
    ]
    for filter_string, expected in cases:
        found = client.search_experiments(filter_string=filter_string, order_by=["name ASC"])
        assert [e.name for e in found] == expected, filter_string


def test_search_order_by(client):
    prefix, ids = _make_group(client, size=4)
    names = sorted(ids)
    by_creation = sorted(ids, key=lambda n: (client.get_experiment(ids[n]).creation_time, int(ids[n])))
    cases = [
        (["name ASC"], names),
        (["name DESC"], names[::-1]),
        (["creation_time ASC", "experiment_id ASC"], by_creation),
    ]
    for order_by, expected in cases:
        found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=order_by)
        assert [e.name for e in found] == expected, order_by


def test_search_paging(client):
    prefix, ids = _make_group(client, size=7)

    found, sizes = collect_pages(
        client.search_experiments, 3, filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )

    assert [e.name for e in found] == sorted(ids, reverse=True)
    assert sizes == [3, 3, 1]
