//! Table tests for `order_by`: every entity's orderable fields, direction
//! spellings, and the entries each one rejects.

use super::tests::{asc, check_order, check_order_err, desc, metric, param, tag};
use super::{Attr, Entity, Field};

fn attr(a: Attr) -> Field {
    Field::Attr(a)
}

#[test]
fn run_order_by() {
    check_order(
        Entity::Runs,
        vec![
            ("metrics.rmse DESC", desc(metric("rmse"))),
            ("metrics.rmse desc", desc(metric("rmse"))),
            ("metric.`my metric` Desc", desc(metric("my metric"))),
            ("params.p", asc(param("p"))),
            ("parameters.p ASC", asc(param("p"))),
            ("tags.\"a.b\" asc", asc(tag("a.b"))),
            ("attributes.start_time ASC", asc(attr(Attr::StartTime))),
            ("  start_time  ", asc(attr(Attr::StartTime))),
            ("created DESC", desc(attr(Attr::StartTime))),
            ("end_time", asc(attr(Attr::EndTime))),
            ("run_name DESC", desc(attr(Attr::RunName))),
            ("\"run name\"", asc(attr(Attr::RunName))),
            ("`Run Name` desc", desc(attr(Attr::RunName))),
            ("run.status", asc(attr(Attr::Status))),
            ("attr.user_id", asc(attr(Attr::UserId))),
            ("artifact_uri", asc(attr(Attr::ArtifactUri))),
            ("run_id", asc(attr(Attr::RunId))),
        ],
    );
    check_order_err(
        Entity::Runs,
        &[
            ("", "Invalid order_by clause ''. Could not be parsed."),
            ("   ", "Could not be parsed"),
            ("metrics.rmse UP", "Invalid ordering key in order_by clause 'metrics.rmse UP'."),
            ("metrics.rmse DESC ASC", "Could not be parsed"),
            ("start_time DESC,", "Could not be parsed"),
            ("'start_time'", "Could not be parsed"),
            ("metrics.`rmse", "Could not be parsed"),
            ("foo", "Invalid order by key 'foo' specified"),
            ("datasets.name", "Invalid entity type 'datasets' in order_by"),
            ("metrics.", "Could not be parsed"),
        ],
    );
}

#[test]
fn experiments_order_by() {
    check_order(
        Entity::Experiments,
        vec![
            ("name", asc(attr(Attr::Name))),
            ("experiment_id DESC", desc(attr(Attr::ExperimentId))),
            ("attribute.creation_time desc", desc(attr(Attr::CreationTime))),
            ("last_update_time ASC", asc(attr(Attr::LastUpdateTime))),
        ],
    );
    check_order_err(
        Entity::Experiments,
        &[("tags.k", "Invalid entity type 'tags' in order_by"), ("lifecycle_stage", "Invalid order by key")],
    );
}

#[test]
fn registered_models_order_by() {
    check_order(
        Entity::RegisteredModels,
        vec![
            ("name", asc(attr(Attr::Name))),
            ("name DESC", desc(attr(Attr::Name))),
            ("creation_timestamp DESC", desc(attr(Attr::CreationTime))),
            ("last_updated_timestamp", asc(attr(Attr::LastUpdateTime))),
            ("timestamp desc", desc(attr(Attr::LastUpdateTime))),
        ],
    );
    check_order_err(
        Entity::RegisteredModels,
        &[("tags.k", "Invalid entity type 'tags'"), ("version", "Invalid order by key 'version'")],
    );
}

#[test]
fn model_versions_order_by() {
    check_order(
        Entity::ModelVersions,
        vec![
            ("name", asc(attr(Attr::Name))),
            ("version_number DESC", desc(attr(Attr::VersionNumber))),
            ("creation_timestamp", asc(attr(Attr::CreationTime))),
            ("last_updated_timestamp DESC", desc(attr(Attr::LastUpdateTime))),
        ],
    );
    check_order_err(Entity::ModelVersions, &[("run_id", "Invalid order by key 'run_id'")]);
}

#[test]
fn logged_models_order_by() {
    check_order(
        Entity::LoggedModels,
        vec![
            ("metrics.accuracy DESC", desc(metric("accuracy"))),
            ("creation_time", asc(attr(Attr::CreationTime))),
            ("name desc", desc(attr(Attr::Name))),
        ],
    );
    check_order_err(Entity::LoggedModels, &[("params.p", "Invalid entity type 'params' in order_by")]);
}
