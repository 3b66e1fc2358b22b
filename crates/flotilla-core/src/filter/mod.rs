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

/// Longest filter string accepted, in bytes: checked before it is read, so a
/// request's tokens stay a small multiple of this.
pub const MAX_FILTER_LENGTH: usize = 256 * 1024;
/// Most `AND`ed clauses in one filter. Each clause is a node of the SQL
/// expression tree; SQLite refuses a tree deeper than 1,000.
pub const MAX_FILTER_CLAUSES: usize = 100;
/// Most values in all the `IN (...)` lists of one filter together; each is a
/// bound SQL variable and SQLite allows 32,766 in a statement.
pub const MAX_FILTER_VALUES: usize = 1000;
/// Longest `LIKE`/`ILIKE` pattern: SQLite refuses longer ones ("LIKE or GLOB
/// pattern too complex", `SQLITE_MAX_LIKE_PATTERN_LENGTH`).
pub const MAX_LIKE_PATTERN_LENGTH: usize = 50_000;
/// Most `order_by` entries in one search. MLflow's UI and clients send one
/// or two; each becomes up to two keyset columns, and the "after this row"
/// predicate grows with the square of their number.
pub const MAX_ORDER_BY: usize = 10;

/// Parses a whole filter string; an empty or blank filter is no clauses.
pub fn parse_filter(entity: Entity, filter: &str) -> Result<Vec<Clause>, FilterError> {
    if filter.len() > MAX_FILTER_LENGTH {
        return Err(FilterError(format!(
            "Invalid filter: it is {} bytes long, more than the limit of {MAX_FILTER_LENGTH} bytes",
            filter.len()
        )));
    }
    let tokens = lexer::lex(filter)?;
    let clauses: Vec<Clause> = syntax::parse_clauses(filter, tokens)?
        .into_iter()
        .map(|raw| typing::clause(entity, raw))
        .collect::<Result<_, _>>()?;
    let values: usize = clauses
        .iter()
        .map(|c| match &c.value {
            Operand::List(items) => items.len(),
            Operand::Str(_) | Operand::Num(_) | Operand::Null => 1,
        })
        .sum();
    if values > MAX_FILTER_VALUES {
        return Err(FilterError(format!(
            "Invalid filter: it compares with {values} values, more than the limit of {MAX_FILTER_VALUES} values in one filter"
        )));
    }
    Ok(clauses)
}

/// Parses one `order_by` entry.
pub fn parse_order_by(entity: Entity, order_by: &str) -> Result<OrderBy, FilterError> {
    order_by::parse(entity, order_by)
}

/// Refuses more `order_by` entries than [`MAX_ORDER_BY`], before any is parsed.
pub fn check_order_by_count(n: usize) -> Result<(), FilterError> {
    if n > MAX_ORDER_BY {
        return Err(FilterError(format!(
            "Invalid order_by: {n} entries, more than the limit of {MAX_ORDER_BY} order_by entries in one search"
        )));
    }
    Ok(())
}
