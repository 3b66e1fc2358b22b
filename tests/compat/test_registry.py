"""Model registry: registered models, versions, aliases, tags, stages, search."""
import time

import pytest
from mlflow import MlflowClient

from compat_util import collect_pages, raises_mlflow, unique


@pytest.fixture(scope="module")
def source_run():
    """One run whose artifact dir serves as the `source` of plain registry versions."""
    client = MlflowClient()
    run = client.create_run(client.create_experiment(unique("registry")))
    return run.info.run_id, f"{run.info.artifact_uri}/model"


@pytest.fixture
def model(client, source_run):
    """A registered model with versions 1, 2 and 3."""
    run_id, source = source_run
    name = unique("model")
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, source, run_id=run_id)
    return name


def test_create_with_tags_and_description(client):
    name = unique("model")

    created = client.create_registered_model(name, tags={"team": "fleet"}, description="first words")
    fetched = client.get_registered_model(name)

    for rm in (created, fetched):
        assert rm.name == name
        assert rm.description == "first words"
        assert rm.tags == {"team": "fleet"}
        assert rm.creation_timestamp > 0
        assert rm.last_updated_timestamp >= rm.creation_timestamp
    assert fetched.latest_versions == []
    assert fetched.aliases == {}


def test_versions_are_numbered_and_ready(client, source_run):
    run_id, source = source_run
    name = unique("model")
    client.create_registered_model(name)

    made = [
        client.create_model_version(name, source, run_id=run_id, tags={"n": str(i)}, description=f"v{i}")
        for i in range(3)
    ]

    assert [mv.version for mv in made] == ["1", "2", "3"]
    got = client.get_model_version(name, "2")
    assert (got.name, got.version, got.source, got.run_id) == (name, "2", source, run_id)
    assert (got.status, got.current_stage, got.description, got.tags) == ("READY", "None", "v1", {"n": "1"})
    assert got.creation_timestamp > 0
    latest = client.get_registered_model(name).latest_versions
    assert [(mv.version, mv.current_stage) for mv in latest] == [("3", "None")]


def test_aliases(client, model):
    client.set_registered_model_alias(model, "champion", "1")
    client.set_registered_model_alias(model, "challenger", "2")
    assert client.get_registered_model(model).aliases == {"champion": "1", "challenger": "2"}
    assert client.get_model_version_by_alias(model, "champion").version == "1"

    client.set_registered_model_alias(model, "champion", "2")  # moving an alias
    assert client.get_model_version_by_alias(model, "champion").version == "2"
    assert sorted(client.get_model_version(model, "2").aliases) == ["challenger", "champion"]
    assert client.get_model_version(model, "1").aliases == []

    client.delete_registered_model_alias(model, "challenger")
    assert client.get_registered_model(model).aliases == {"champion": "2"}
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.get_model_version_by_alias(model, "challenger")


def test_model_version_tags(client, model):
    client.set_model_version_tag(model, "1", "validated", "yes")
    client.set_model_version_tag(model, "1", "owner", "compat")
    client.set_model_version_tag(model, "1", "owner", "someone-else")
    assert client.get_model_version(model, "1").tags == {"validated": "yes", "owner": "someone-else"}
    assert client.get_model_version(model, "2").tags == {}

    client.delete_model_version_tag(model, "1", "validated")
    assert client.get_model_version(model, "1").tags == {"owner": "someone-else"}


def test_registered_model_tags(client, model):
    client.set_registered_model_tag(model, "domain", "fraud")
    client.set_registered_model_tag(model, "tier", "gold")
    assert client.get_registered_model(model).tags == {"domain": "fraud", "tier": "gold"}

    client.delete_registered_model_tag(model, "domain")
    assert client.get_registered_model(model).tags == {"tier": "gold"}


def test_stage_transitions_and_latest_versions(client, model):
    client.transition_model_version_stage(model, "1", "Staging")
    client.transition_model_version_stage(model, "2", "Production")

    def latest(stages=None):
        return sorted((mv.current_stage, mv.version) for mv in client.get_latest_versions(model, stages))

    assert latest(["Production"]) == [("Production", "2")]
    assert latest(["Staging", "Production"]) == [("Production", "2"), ("Staging", "1")]
    assert latest() == [("None", "3"), ("Production", "2"), ("Staging", "1")]

    moved = client.transition_model_version_stage(model, "3", "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    stages = {v: client.get_model_version(model, v).current_stage for v in ("1", "2", "3")}
    assert stages == {"1": "Staging", "2": "Archived", "3": "Production"}
    assert latest(["Production"]) == [("Production", "3")]


def test_update_descriptions(client, model):
    client.update_registered_model(model, description="model words")
    client.update_model_version(model, "2", description="version words")

    assert client.get_registered_model(model).description == "model words"
    assert client.get_model_version(model, "2").description == "version words"
    assert client.get_model_version(model, "1").description in ("", None)


def test_rename_keeps_versions_and_aliases(client, model):
    new_name = unique("renamed")
    client.set_registered_model_alias(model, "prod", "3")

    client.rename_registered_model(model, new_name)

    assert client.get_registered_model(new_name).name == new_name
    assert client.get_model_version(new_name, "3").name == new_name
    assert client.get_model_version_by_alias(new_name, "prod").version == "3"
    versions = client.search_model_versions(f"name = '{new_name}'", order_by=["version_number ASC"])
    assert [mv.version for mv in versions] == ["1", "2", "3"]
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(model)


def test_delete_version_then_model(client, model):
    client.delete_model_version(model, "2")

    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(model, "2")
    remaining = client.search_model_versions(f"name = '{model}'")
    assert sorted(mv.version for mv in remaining) == ["1", "3"]

    client.delete_registered_model(model)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(model)
    assert list(client.search_model_versions(f"name = '{model}'")) == []


def test_copy_model_version(client, model):
    target = unique("copy")

    copied = client.copy_model_version(f"models:/{model}/2", target)

    assert (copied.name, copied.version) == (target, "1")
    assert client.get_model_version(target, "1").run_id == client.get_model_version(model, "2").run_id


def test_download_uri_is_the_version_source(client, model, source_run):
    _, source = source_run
    assert client.get_model_version_download_uri(model, "1") == source


@pytest.fixture(scope="module")
def model_family():
    """Four models sharing a prefix, with mixed-case names and tags."""
    client = MlflowClient()
    prefix = unique("family")
    spec = {
        f"{prefix}-alpha": {"stage": "prod", "owner": "ann"},
        f"{prefix}-beta": {"stage": "dev", "owner": "bob"},
        f"{prefix}-Gamma": {"stage": "prod", "owner": "bob"},
        f"{prefix}-delta": {"stage": "dev"},
    }
    for name, tags in spec.items():
        client.create_registered_model(name, tags=tags)
    return prefix


@pytest.mark.parametrize(
    ("filter_template", "expected"),
    [
        ("name = '{p}-alpha'", ["alpha"]),
        ("name != '{p}-alpha' AND name LIKE '{p}-%'", ["Gamma", "beta", "delta"]),
        ("name LIKE '{p}-%a'", ["Gamma", "alpha", "beta", "delta"]),
        ("name LIKE '{p}-g%'", []),
        ("name ILIKE '{p}-g%'", ["Gamma"]),
        ("name ILIKE '{P}-%'", ["Gamma", "alpha", "beta", "delta"]),
        ("name LIKE '{p}-%' AND tags.stage = 'prod'", ["Gamma", "alpha"]),
        ("name LIKE '{p}-%' AND tags.owner = 'bob' AND tags.stage = 'dev'", ["beta"]),
        ("name LIKE '{p}-%' AND tags.owner LIKE 'a%'", ["alpha"]),
        ("name LIKE '{p}-%' AND tags.stage != 'prod'", ["beta", "delta"]),
        ("name IN ('{p}-beta', '{p}-delta', 'nope')", ["beta", "delta"]),
    ],
)
def test_search_registered_models_filters(client, model_family, filter_template, expected):
    p = model_family
    found = client.search_registered_models(filter_template.format(p=p, P=p.upper()), order_by=["name ASC"])
    assert [rm.name[len(p) + 1 :] for rm in found] == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name ASC"], ["Gamma", "alpha", "beta", "delta"]),
        (["name DESC"], ["delta", "beta", "alpha", "Gamma"]),
        # MLflow 3.17.2 accepts only `name` and `timestamp` (= last_updated_timestamp) here.
        (["timestamp DESC", "name ASC"], None),  # checked against the models' own timestamps
    ],
)
def test_search_registered_models_order_by(client, model_family, order_by, expected):
    p = model_family
    found = client.search_registered_models(f"name LIKE '{p}-%'", order_by=order_by)
    if expected is None:
        by_time = sorted(found, key=lambda rm: (-rm.last_updated_timestamp, rm.name))
        expected = [rm.name[len(p) + 1 :] for rm in by_time]
    assert [rm.name[len(p) + 1 :] for rm in found] == expected


def test_search_registered_models_paging(client):
    prefix = unique("page")
    names = [f"{prefix}-{i:02d}" for i in range(25)]
    for name in names:
        client.create_registered_model(name)

    found, sizes = collect_pages(
        client.search_registered_models, 10, filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"]
    )

    assert [rm.name for rm in found] == names
    assert sizes == [10, 10, 5]


def test_search_registered_models_without_filter_finds_new_models(client):
    """The client appends a prompt-tag clause; models lacking that tag must still match."""
    name = unique("nofilter")
    client.create_registered_model(name)

    found, _ = collect_pages(client.search_registered_models, 1000)

    assert name in {rm.name for rm in found}


def test_search_model_versions(client, source_run):
    run_id, source = source_run
    other = client.create_run(client.create_experiment(unique("registry-other")))
    name = unique("versions")
    client.create_registered_model(name)
    for i in range(5):
        use_other = i % 2 == 1
        client.create_model_version(
            name,
            f"{other.info.artifact_uri}/model" if use_other else source,
            run_id=other.info.run_id if use_other else run_id,
            tags={"parity": "odd" if use_other else "even"},
        )
    cases = [
        (f"name = '{name}'", ["1", "2", "3", "4", "5"]),
        (f"name = '{name}' AND run_id = '{other.info.run_id}'", ["2", "4"]),
        (f"name = '{name}' AND tags.parity = 'even'", ["1", "3", "5"]),
        (f"name = '{name}' AND version_number > 3", ["4", "5"]),
        (f"name = '{name}' AND source_path = '{source}'", ["1", "3", "5"]),
        (f"run_id = '{other.info.run_id}'", ["2", "4"]),
    ]
    for filter_string, expected in cases:
        found = client.search_model_versions(filter_string)
        assert sorted(mv.version for mv in found) == expected, filter_string

    # Without order_by, MLflow answers the version updated last first, then by
    # name and newest version.
    time.sleep(0.01)
    client.update_model_version(name, "2", description="touched")
    assert [mv.version for mv in client.search_model_versions(f"name = '{name}'")][0] == "2"

    found, sizes = collect_pages(
        client.search_model_versions, 2, filter_string=f"name = '{name}'", order_by=["version_number DESC"]
    )
    assert [mv.version for mv in found] == ["5", "4", "3", "2", "1"]
    assert sizes == [2, 2, 1]
