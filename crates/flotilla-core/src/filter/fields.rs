//! Which identifiers each search endpoint accepts, how MLflow's spellings map
//! onto [`Field`], and which comparators and value types each field takes.

use super::lexer::{Part, excerpt};
use super::{Attr, Comparator, DatasetField, Entity, Field, FilterError};
use crate::validation::MAX_ENTITY_KEY_LENGTH;
use Comparator::{Eq, Ge, Gt, ILike, In, IsNotNull, IsNull, Le, Like, Lt, Ne, NotIn};

pub(super) const NUMERIC: &[Comparator] = &[Eq, Ne, Gt, Ge, Lt, Le];
const STRING: &[Comparator] = &[Eq, Ne, Like, ILike];
const STRING_NULL: &[Comparator] = &[Eq, Ne, Like, ILike, IsNull, IsNotNull];
const STRING_LIST: &[Comparator] = &[Eq, Ne, Like, ILike, In, NotIn];
const ID_LIST: &[Comparator] = &[Eq, Ne, In, NotIn];

/// Whether a field is filtered (with its comparators) or ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usage {
    Filter,
    OrderBy,
}

/// A resolved field and what a clause on it may say.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spec {
    pub field: Field,
    pub numeric: bool,
    pub allowed: &'static [Comparator],
    /// Named in value errors, as MLflow does: "metric", "param", "tag", ...
    pub what: &'static str,
}

/// One spelling of an attribute: what it names and where it may appear.
#[derive(Debug, Clone, Copy)]
struct AttrRow {
    name: &'static str,
    attr: Attr,
    numeric: bool,
    /// The comparators a filter may use; `None` when only `order_by` may name it.
    filter: Option<&'static [Comparator]>,
    order_by: bool,
}

/// A string attribute, filterable with `cmps` and orderable.
const fn text(name: &'static str, attr: Attr, cmps: &'static [Comparator]) -> AttrRow {
    AttrRow { name, attr, numeric: false, filter: Some(cmps), order_by: true }
}

/// A numeric attribute, filterable and orderable.
const fn num(name: &'static str, attr: Attr) -> AttrRow {
    AttrRow { name, attr, numeric: true, filter: Some(NUMERIC), order_by: true }
}

const fn filter_only(row: AttrRow) -> AttrRow {
    AttrRow { order_by: false, ..row }
}

const fn order_only(row: AttrRow) -> AttrRow {
    AttrRow { filter: None, ..row }
}

const RUN_ATTRS: &[AttrRow] = &[
    text("run_id", Attr::RunId, STRING_LIST),
    text("run_name", Attr::RunName, STRING),
    text("run name", Attr::RunName, STRING),
    text("Run name", Attr::RunName, STRING),
    text("Run Name", Attr::RunName, STRING),
    text("status", Attr::Status, STRING),
    text("user_id", Attr::UserId, STRING),
    text("artifact_uri", Attr::ArtifactUri, STRING),
    num("start_time", Attr::StartTime),
    num("end_time", Attr::EndTime),
    num("created", Attr::StartTime),
    num("Created", Attr::StartTime),
];

const EXPERIMENT_ATTRS: &[AttrRow] = &[
    text("name", Attr::Name, STRING),
    text("experiment_id", Attr::ExperimentId, ID_LIST),
    num("creation_time", Attr::CreationTime),
    num("last_update_time", Attr::LastUpdateTime),
];

const REGISTERED_MODEL_ATTRS: &[AttrRow] = &[
    text("name", Attr::Name, STRING_LIST),
    order_only(num("creation_timestamp", Attr::CreationTime)),
    order_only(num("last_updated_timestamp", Attr::LastUpdateTime)),
    // MLflow's legacy key sorts by the last update, not the creation (`SearchUtils`).
    order_only(num("timestamp", Attr::LastUpdateTime)),
];

const MODEL_VERSION_ATTRS: &[AttrRow] = &[
    text("name", Attr::Name, STRING_LIST),
    num("version_number", Attr::VersionNumber),
    filter_only(text("run_id", Attr::RunId, ID_LIST)),
    filter_only(text("source_path", Attr::SourcePath, STRING)),
    order_only(num("creation_timestamp", Attr::CreationTime)),
    order_only(num("last_updated_timestamp", Attr::LastUpdateTime)),
];

const LOGGED_MODEL_ATTRS: &[AttrRow] = &[
    text("name", Attr::Name, STRING_LIST),
    text("model_id", Attr::ModelId, STRING_LIST),
    text("model_type", Attr::ModelType, STRING_LIST),
    text("status", Attr::Status, STRING_LIST),
    text("source_run_id", Attr::SourceRunId, STRING_LIST),
    num("creation_timestamp", Attr::CreationTime),
    num("creation_time", Attr::CreationTime),
    num("last_updated_timestamp", Attr::LastUpdateTime),
    num("last_updated_time", Attr::LastUpdateTime),
];

fn attr_rows(entity: Entity) -> &'static [AttrRow] {
    match entity {
        Entity::Runs => RUN_ATTRS,
        Entity::Experiments => EXPERIMENT_ATTRS,
        Entity::RegisteredModels => REGISTERED_MODEL_ATTRS,
        Entity::ModelVersions => MODEL_VERSION_ATTRS,
        Entity::LoggedModels => LOGGED_MODEL_ATTRS,
    }
}

/// What kind of thing a prefix names, before the key is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

const METRIC: &[&str] = &["metric", "metrics"];
const PARAM: &[&str] = &["param", "params", "parameter", "parameters"];
const TAG: &[&str] = &["tag", "tags"];
const ATTRIBUTE: &[&str] = &["attribute", "attributes", "attr"];
const RUN_ATTRIBUTE: &[&str] = &["attribute", "attributes", "attr", "run"];
const DATASET: &[&str] = &["dataset", "datasets"];

/// The prefixes an entity accepts, per kind.
fn prefixes(entity: Entity, usage: Usage) -> Vec<(Kind, &'static [&'static str])> {
    let mut out = vec![(Kind::Attribute, ATTRIBUTE), (Kind::Tag, TAG)];
    match (entity, usage) {
        (Entity::Runs, Usage::Filter) => {
            out = vec![
                (Kind::Metric, METRIC),
                (Kind::Param, PARAM),
                (Kind::Tag, TAG),
                (Kind::Attribute, RUN_ATTRIBUTE),
                (Kind::Dataset, DATASET),
            ];
        }
        (Entity::Runs, Usage::OrderBy) => {
            out =
                vec![(Kind::Metric, METRIC), (Kind::Param, PARAM), (Kind::Tag, TAG), (Kind::Attribute, RUN_ATTRIBUTE)];
        }
        (Entity::LoggedModels, Usage::Filter) => {
            out = vec![(Kind::Metric, METRIC), (Kind::Param, PARAM), (Kind::Tag, TAG), (Kind::Attribute, ATTRIBUTE)];
        }
        (Entity::LoggedModels, Usage::OrderBy) => {
            out = vec![(Kind::Metric, METRIC), (Kind::Attribute, ATTRIBUTE)];
        }
        (Entity::Experiments | Entity::RegisteredModels | Entity::ModelVersions, Usage::OrderBy) => {
            out.truncate(1);
        }
        (Entity::Experiments | Entity::RegisteredModels | Entity::ModelVersions, Usage::Filter) => {}
    }
    out
}

/// Renders names the way MLflow prints a Python set: `{'a', 'b'}`.
pub(super) fn python_set<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("'{n}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

fn kind_of(entity: Entity, usage: Usage, prefix: &str) -> Result<Kind, FilterError> {
    let table = prefixes(entity, usage);
    if let Some((kind, _)) = table.iter().find(|(_, names)| names.contains(&prefix)) {
        return Ok(*kind);
    }
    let valid: Vec<&str> = table.iter().flat_map(|(_, names)| names.iter().copied()).collect();
    let place = match usage {
        Usage::Filter => "",
        Usage::OrderBy => " in order_by",
    };
    Err(FilterError(format!(
        "Invalid entity type '{}'{place}. Valid values are {}",
        excerpt(prefix),
        python_set(valid)
    )))
}

fn attribute(entity: Entity, usage: Usage, key: &str) -> Result<Spec, FilterError> {
    let usable = |row: &&AttrRow| match usage {
        Usage::Filter => row.filter.is_some(),
        Usage::OrderBy => row.order_by,
    };
    let rows = attr_rows(entity).iter().filter(usable);
    if let Some(row) = rows.clone().find(|row| row.name == key) {
        let what = if row.numeric { "numeric attribute" } else { "attribute" };
        return Ok(Spec {
            field: Field::Attr(row.attr),
            numeric: row.numeric,
            allowed: row.filter.unwrap_or(&[]),
            what,
        });
    }
    let valid = python_set(rows.map(|row| row.name));
    let key = excerpt(key);
    Err(FilterError(match usage {
        Usage::Filter => {
            format!("Invalid attribute key '{key}' specified. Valid keys are '{valid}'")
        }
        Usage::OrderBy => {
            format!("Invalid order by key '{key}' specified. Valid keys are '{valid}'")
        }
    }))
}

fn dataset(key: &str) -> Result<Spec, FilterError> {
    let field = match key {
        "name" => DatasetField::Name,
        "digest" => DatasetField::Digest,
        "context" => DatasetField::Context,
        other => {
            return Err(FilterError(format!(
                "Invalid dataset key '{}' specified. Valid keys are '{}'",
                excerpt(other),
                python_set(["name", "digest", "context"])
            )));
        }
    };
    Ok(Spec { field: Field::Dataset(field), numeric: false, allowed: STRING_LIST, what: "dataset attribute" })
}

/// Resolves an identifier (its parts as lexed) to a field of `entity`.
/// One part is an attribute; otherwise the first part is the prefix and the
/// rest, joined by dots, is the key (`tags.a.b` is the tag `a.b`, as in MLflow).
pub(super) fn resolve(entity: Entity, usage: Usage, parts: &[Part], written: &str) -> Result<Spec, FilterError> {
    let (kind, key) = match parts {
        [] => return Err(FilterError("Invalid identifier: it is empty".into())),
        [only] => (Kind::Attribute, only.text.clone()),
        [prefix, rest @ ..] => {
            let key: Vec<&str> = rest.iter().map(|p| p.text.as_str()).collect();
            (kind_of(entity, usage, &prefix.text)?, key.join("."))
        }
    };
    if key.is_empty() {
        return Err(FilterError(format!("Invalid identifier '{}': the key is empty", excerpt(written))));
    }
    if key.len() > MAX_ENTITY_KEY_LENGTH {
        return Err(FilterError(format!(
            "Invalid identifier '{}': the key is {} bytes long, more than the limit of {MAX_ENTITY_KEY_LENGTH}",
            excerpt(written),
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(FilterError(format!(
            "Invalid identifier '{}': a key may not contain control characters",
            excerpt(&written.escape_debug().to_string())
        )));
    }
    let tag_cmps = match entity {
        Entity::Runs | Entity::Experiments => STRING_NULL,
        Entity::RegisteredModels | Entity::ModelVersions | Entity::LoggedModels => STRING,
    };
    let param_cmps = match entity {
        Entity::Runs => STRING_NULL,
        Entity::Experiments | Entity::RegisteredModels | Entity::ModelVersions | Entity::LoggedModels => STRING,
    };
    match kind {
        Kind::Metric => Ok(Spec { field: Field::Metric(key), numeric: true, allowed: NUMERIC, what: "metric" }),
        Kind::Param => Ok(Spec { field: Field::Param(key), numeric: false, allowed: param_cmps, what: "param" }),
        Kind::Tag => Ok(Spec { field: Field::Tag(key), numeric: false, allowed: tag_cmps, what: "tag" }),
        Kind::Attribute => attribute(entity, usage, &key),
        Kind::Dataset => dataset(&key),
    }
}
