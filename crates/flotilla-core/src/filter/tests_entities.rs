//! Table tests per search endpoint: which identifiers, prefixes, comparators
//! and values each entity accepts, and what it rejects.

use super::tests::{c, check_err, check_ok, list, metric, n, param, s, tag};
use super::{Attr, Comparator as C, DatasetField, Entity, Field, Operand};

fn attr(a: Attr) -> Field {
    Field::Attr(a)
}

#[test]
fn runs_prefix_spellings() {
    let mut cases = Vec::new();
    for p in ["metrics", "metric"] {
        cases.push((format!("{p}.m > 1"), c(metric("m"), C::Gt, n(1.0))));
    }
    for p in ["params", "param", "parameter", "parameters"] {
        cases.push((format!("{p}.k = 'v'"), c(param("k"), C::Eq, s("v"))));
    }
    for p in ["tags", "tag"] {
        cases.push((format!("{p}.k = 'v'"), c(tag("k"), C::Eq, s("v"))));
    }
    for p in ["attributes.", "attribute.", "attr.", "run.", ""] {
        cases.push((format!("{p}status = 'RUNNING'"), c(attr(Attr::Status), C::Eq, s("RUNNING"))));
    }
    for p in ["datasets", "dataset"] {
        cases.push((format!("{p}.name = 'd'"), c(Field::Dataset(DatasetField::Name), C::Eq, s("d"))));
    }
    check_ok(Entity::Runs, cases.iter().map(|(i, e)| (i.as_str(), vec![e.clone()])).collect());
}

#[test]
fn runs_attributes() {
    check_ok(
        Entity::Runs,
        vec![
            ("run_id = 'abc'", vec![c(attr(Attr::RunId), C::Eq, s("abc"))]),
            ("attributes.run_id IN ('a', 'b')", vec![c(attr(Attr::RunId), C::In, list(&["a", "b"]))]),
            ("run_name = 'r'", vec![c(attr(Attr::RunName), C::Eq, s("r"))]),
            ("\"run name\" = 'r'", vec![c(attr(Attr::RunName), C::Eq, s("r"))]),
            ("\"Run Name\" LIKE 'r%'", vec![c(attr(Attr::RunName), C::Like, s("r%"))]),
            ("`Run name` != 'r'", vec![c(attr(Attr::RunName), C::Ne, s("r"))]),
            ("attributes.`run name` ILIKE 'r'", vec![c(attr(Attr::RunName), C::ILike, s("r"))]),
            ("user_id = 'u'", vec![c(attr(Attr::UserId), C::Eq, s("u"))]),
            ("artifact_uri LIKE 's3://%'", vec![c(attr(Attr::ArtifactUri), C::Like, s("s3://%"))]),
            ("start_time > 1700000000000", vec![c(attr(Attr::StartTime), C::Gt, n(1.7e12))]),
            ("attributes.end_time <= 5", vec![c(attr(Attr::EndTime), C::Le, n(5.0))]),
            ("created >= 1", vec![c(attr(Attr::StartTime), C::Ge, n(1.0))]),
            ("Created < 1", vec![c(attr(Attr::StartTime), C::Lt, n(1.0))]),
            ("datasets.digest IN ('x')", vec![c(Field::Dataset(DatasetField::Digest), C::In, list(&["x"]))]),
            (
                "dataset.context NOT IN ('training')",
                vec![c(Field::Dataset(DatasetField::Context), C::NotIn, list(&["training"]))],
            ),
            ("params.p IS NULL", vec![c(param("p"), C::IsNull, Operand::Null)]),
        ],
    );
    check_err(
        Entity::Runs,
        &[
            ("status IN ('RUNNING')", "Invalid comparator 'IN'"),
            ("run_name NOT IN ('a')", "Invalid comparator 'NOT IN'"),
            ("start_time = 'x'", "Expected numeric value type for numeric attribute. Found 'x'"),
            ("start_time LIKE 1", "Invalid comparator 'LIKE'"),
            ("status = 1", "Expected a quoted string value for attribute"),
            ("experiment_id = '1'", "Invalid attribute key 'experiment_id'"),
            ("run_uuid = '1'", "Invalid attribute key 'run_uuid'"),
            (
                "datasets.foo = 'x'",
                "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'",
            ),
            ("datasets.name > 'x'", "Invalid comparator '>'"),
            ("datasets.name = 1", "Expected a quoted string value for dataset attribute"),
            ("run_id IS NULL", "Invalid comparator 'IS NULL'"),
        ],
    );
}

#[test]
fn experiments() {
    check_ok(
        Entity::Experiments,
        vec![
            ("name = 'x'", vec![c(attr(Attr::Name), C::Eq, s("x"))]),
            ("attribute.name ILIKE '%x%'", vec![c(attr(Attr::Name), C::ILike, s("%x%"))]),
            ("experiment_id = '0'", vec![c(attr(Attr::ExperimentId), C::Eq, s("0"))]),
            ("experiment_id IN ('1', '2')", vec![c(attr(Attr::ExperimentId), C::In, list(&["1", "2"]))]),
            ("creation_time > 5", vec![c(attr(Attr::CreationTime), C::Gt, n(5.0))]),
            ("last_update_time <= 5", vec![c(attr(Attr::LastUpdateTime), C::Le, n(5.0))]),
            (
                "tags.k = 'v' AND tag.j IS NOT NULL",
                vec![c(tag("k"), C::Eq, s("v")), c(tag("j"), C::IsNotNull, Operand::Null)],
            ),
        ],
    );
    check_err(
        Entity::Experiments,
        &[
            ("name IN ('x')", "Invalid comparator 'IN'"),
            ("experiment_id LIKE '1%'", "Invalid comparator 'LIKE'"),
            ("experiment_id = 1", "Expected a quoted string value for attribute"),
            ("creation_time = 'x'", "Expected numeric value type"),
            ("metrics.m > 1", "Invalid entity type 'metrics'. Valid values are {'attribute'"),
            ("params.p = 'x'", "Invalid entity type 'params'"),
            ("artifact_location = 'x'", "Invalid attribute key 'artifact_location'"),
        ],
    );
}

#[test]
fn registered_models() {
    check_ok(
        Entity::RegisteredModels,
        vec![
            ("name LIKE 'a%'", vec![c(attr(Attr::Name), C::Like, s("a%"))]),
            ("name IN ('a', 'b')", vec![c(attr(Attr::Name), C::In, list(&["a", "b"]))]),
            ("attributes.name NOT IN ('a')", vec![c(attr(Attr::Name), C::NotIn, list(&["a"]))]),
            ("tags.k ILIKE 'v'", vec![c(tag("k"), C::ILike, s("v"))]),
            (
                "name ILIKE '%m%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
                vec![c(attr(Attr::Name), C::ILike, s("%m%")), c(tag("mlflow.prompt.is_prompt"), C::Ne, s("true"))],
            ),
            ("tag.`mlflow.prompt.is_prompt` != 'true'", vec![c(tag("mlflow.prompt.is_prompt"), C::Ne, s("true"))]),
        ],
    );
    check_err(
        Entity::RegisteredModels,
        &[
            (
                "creation_timestamp > 1",
                "Invalid attribute key 'creation_timestamp' specified. Valid keys are '{'name'}'",
            ),
            ("timestamp > 1", "Invalid attribute key 'timestamp'"),
            ("tags.k IS NULL", "Invalid comparator 'IS NULL'"),
            ("tags.k IN ('a')", "Invalid comparator 'IN'"),
            ("name > 'a'", "Invalid comparator '>'"),
            ("metrics.m > 1", "Invalid entity type 'metrics'"),
        ],
    );
}

#[test]
fn model_versions() {
    check_ok(
        Entity::ModelVersions,
        vec![
            (
                "name='m' and version_number > 1",
                vec![c(attr(Attr::Name), C::Eq, s("m")), c(attr(Attr::VersionNumber), C::Gt, n(1.0))],
            ),
            ("version_number = '3'", vec![c(attr(Attr::VersionNumber), C::Eq, n(3.0))]),
            ("run_id = 'r'", vec![c(attr(Attr::RunId), C::Eq, s("r"))]),
            ("run_id IN ('a', 'b')", vec![c(attr(Attr::RunId), C::In, list(&["a", "b"]))]),
            ("source_path LIKE 's3://%'", vec![c(attr(Attr::SourcePath), C::Like, s("s3://%"))]),
            ("name IN ('m')", vec![c(attr(Attr::Name), C::In, list(&["m"]))]),
            ("tags.k = 'v'", vec![c(tag("k"), C::Eq, s("v"))]),
        ],
    );
    check_err(
        Entity::ModelVersions,
        &[
            ("current_stage = 'Production'", "Invalid attribute key 'current_stage'"),
            ("version_number = 'x'", "Expected numeric value type"),
            ("version_number LIKE '1'", "Invalid comparator 'LIKE'"),
            ("run_id LIKE 'a%'", "Invalid comparator 'LIKE'"),
            ("source_path IN ('a')", "Invalid comparator 'IN'"),
            ("creation_timestamp > 1", "Invalid attribute key 'creation_timestamp'"),
            ("tags.k IS NULL", "Invalid comparator 'IS NULL'"),
        ],
    );
}

#[test]
fn logged_models() {
    check_ok(
        Entity::LoggedModels,
        vec![
            ("name = 'model'", vec![c(attr(Attr::Name), C::Eq, s("model"))]),
            ("model_id IN ('m-1')", vec![c(attr(Attr::ModelId), C::In, list(&["m-1"]))]),
            ("model_type LIKE 'a%'", vec![c(attr(Attr::ModelType), C::Like, s("a%"))]),
            ("attributes.status != 'READY'", vec![c(attr(Attr::Status), C::Ne, s("READY"))]),
            ("source_run_id NOT IN ('r')", vec![c(attr(Attr::SourceRunId), C::NotIn, list(&["r"]))]),
            ("creation_timestamp > 1", vec![c(attr(Attr::CreationTime), C::Gt, n(1.0))]),
            ("creation_time > 1", vec![c(attr(Attr::CreationTime), C::Gt, n(1.0))]),
            ("last_updated_timestamp < 1", vec![c(attr(Attr::LastUpdateTime), C::Lt, n(1.0))]),
            ("metrics.accuracy >= 0.9", vec![c(metric("accuracy"), C::Ge, n(0.9))]),
            ("params.lr = '0.1'", vec![c(param("lr"), C::Eq, s("0.1"))]),
            ("tags.k ILIKE 'v'", vec![c(tag("k"), C::ILike, s("v"))]),
        ],
    );
    check_err(
        Entity::LoggedModels,
        &[
            ("params.lr IS NULL", "Invalid comparator 'IS NULL'"),
            ("datasets.name = 'd'", "Invalid entity type 'datasets'"),
            ("run_id = 'r'", "Invalid attribute key 'run_id'"),
            ("metrics.m = 'x'", "Expected numeric value type for metric"),
        ],
    );
}
