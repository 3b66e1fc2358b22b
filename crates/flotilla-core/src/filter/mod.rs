//! MLflow's search-filter and `order_by` language, parsed into typed clauses.
//!
//! The grammar is MLflow's (`mlflow/utils/search_utils.py`): clauses joined by
//! `AND` only, each `<identifier> <comparator> <value>`. Parsing is per
//! [`Entity`], because each search endpoint allows different identifiers and
//! comparators; an identifier or comparator an endpoint does not allow is an
//! error here, so the store never sees it.

mod fields;
mod lexer;
mod order_by;
mod syntax;
mod typing;

#[cfg(test)]
mod proptest_render;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_entities;
#[cfg(test)]
mod tests_order_by;

/// Which search endpoint a filter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Runs,
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

/// A built-in attribute, normalised from MLflow's spellings
/// (`run name`, `attributes.start_time`, `created`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    // runs
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
    // experiments, registered models, model versions, logged models
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
    // model versions
    VersionNumber,
    SourcePath,
    // logged models
    ModelId,
    ModelType,
    SourceRunId,
}

/// A dataset attribute usable in run filters (`datasets.name = 'x'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    Name,
    Digest,
    Context,
}

/// What a clause or an ordering talks about.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Metric(String),
    Param(String),
    Tag(String),
    Attr(Attr),
    Dataset(DatasetField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// The right-hand side of a clause, already typed for its field:
/// numbers for metrics and numeric attributes, strings otherwise,
/// lists for `IN`/`NOT IN`, `Null` for `IS [NOT] NULL`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
    List(Vec<String>),
    Null,
}

/// One `<field> <comparator> <operand>` clause; a filter is their conjunction.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub field: Field,
    pub cmp: Comparator,
    pub value: Operand,
}

/// One `order_by` entry: `metrics.rmse DESC`, `name`, `attributes.start_time ASC`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub field: Field,
    pub ascending: bool,
}

/// A filter or ordering the endpoint cannot accept; the message is shown to
/// the client as an `INVALID_PARAMETER_VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// Parses a whole filter string; an empty or blank filter is no clauses.
pub fn parse_filter(entity: Entity, filter: &str) -> Result<Vec<Clause>, FilterError> {
    let tokens = lexer::lex(filter)?;
    syntax::parse_clauses(filter, tokens)?.into_iter().map(|raw| typing::clause(entity, raw)).collect()
}

/// Parses one `order_by` entry.
pub fn parse_order_by(entity: Entity, order_by: &str) -> Result<OrderBy, FilterError> {
    order_by::parse(entity, order_by)
}
