"""What `flotilla import mlflow` itself promises beyond the entities: a rerun imports nothing,
family rules put a flat registry into families, and bad input (an unknown schema revision, a
missing artifact root, a conflict) fails clearly and leaves a usable destination.
"""

import json
import sqlite3

import pytest

from mlflow import MlflowClient
from mlflow.entities import ViewType
from conftest import SELF_CHECK
from serving_request import fleet_models

pytestmark = pytest.mark.skipif(SELF_CHECK, reason="IMPORT_SELF_CHECK=1: nothing is imported")

NEW_KEYS = ("new", "imported", "created", "inserted", "copied_files")


def new_entities(report):
    """The sum of every count under a key that means "newly imported" in the JSON report."""
    total, found = 0, False

    def walk(node):
        nonlocal total, found
        if isinstance(node, dict):
            for k, v in node.items():
                if k in NEW_KEYS and isinstance(v, (int, float)):
                    total += v
                    found = True
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(report)
    assert found, f"the report names no count of new entities ({NEW_KEYS}): {json.dumps(report)[:2000]}"
    return total


def test_rerun_is_a_no_op_and_family_rules_make_a_fleet(source, run_import, serve, tmp_path):
    data_dir = tmp_path / "data"
    rule = r"demand-(?P<store>\d+)=demand"
    flags = ["--from", source.uri(), "--artifacts-from", source.artifacts, "--data-dir", data_dir, "--family-rule", rule]
    first = run_import(*flags).ok()
    assert new_entities(first.report) > 0, "the first import reports nothing new"
    again = run_import(*flags).ok()
    assert new_entities(again.report) == 0, f"the rerun imported again: {json.dumps(again.report)[:2000]}"
    with serve(data_dir) as server:
        members = {m["name"]: m for m in fleet_models(server.url, family="demand")}
        # The family's default model, named like it, is made as the fleet API makes a family.
        default = members.pop("demand", None)
        assert default is None or default["partition"] == [], default
        assert sorted(members) == source.manifest["models"]["demand"]
        for m in members.values():
            assert m["family"] == "demand"
            assert m["partition"] == [{"key": "store", "value": m["name"].rsplit("-", 1)[1]}], m
        others = [m for m in fleet_models(server.url) if m["family"] != "demand"]
        assert len(others) == len(MlflowClient(source.url).search_registered_models()) - len(members)
        assert others and all(m["family"] is None for m in others), others


def assert_usable(serve, data_dir):
    """flotilla starts on the data directory and answers the client."""
    with serve(data_dir) as server:
        return MlflowClient(server.url).search_experiments(view_type=ViewType.ALL)


def test_unknown_schema_revision_fails_clearly(source, source_copy, run_import, serve, tmp_path):
    with sqlite3.connect(source_copy) as db:
        db.execute("UPDATE alembic_version SET version_num = 'feedfacecafe'")
    data_dir = tmp_path / "data"
    bad = run_import("--from", f"sqlite:///{source_copy}", "--artifacts-from", source.artifacts, "--data-dir", data_dir)
    assert bad.returncode != 0, bad.output
    assert "feedfacecafe" in bad.output, f"the message does not name the revision:\n{bad.output[-2000:]}"
    assert_usable(serve, data_dir)
    run_import("--from", source.uri(), "--artifacts-from", source.artifacts, "--data-dir", data_dir).ok()


def test_missing_artifact_root_fails_clearly(source, run_import, serve, tmp_path):
    missing = tmp_path / "no-such-artifacts"
    data_dir = tmp_path / "data"
    bad = run_import("--from", source.uri(), "--artifacts-from", missing, "--data-dir", data_dir)
    assert bad.returncode != 0, bad.output
    assert str(missing) in bad.output, f"the message does not name the artifact root:\n{bad.output[-2000:]}"
    if data_dir.exists():
        assert_usable(serve, data_dir)


def test_conflict_is_reported_and_nothing_overwritten(source, source_copy, run_import, serve, tmp_path):
    parent = source.manifest["runs"]["parent"]
    data_dir = tmp_path / "data"
    flags = ["--from", f"sqlite:///{source_copy}", "--artifacts-from", source.artifacts, "--data-dir", data_dir]
    run_import(*flags).ok()
    with sqlite3.connect(source_copy) as db:
        assert db.execute("UPDATE runs SET name = 'renamed-at-source' WHERE run_uuid = ?", (parent,)).rowcount == 1
    conflict = run_import(*flags)
    assert conflict.returncode != 0, conflict.output
    assert parent in conflict.output or parent in json.dumps(conflict.report), (
        f"the conflict does not name run {parent}:\n{conflict.output[-2000:]}"
    )
    with serve(data_dir) as server:
        assert MlflowClient(server.url).get_run(parent).info.run_name == "parent"
