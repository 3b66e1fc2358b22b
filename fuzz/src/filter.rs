//! The MLflow filter and `order_by` parsers (`flotilla_core::filter`).
//!
//! Invariant beyond "no panic": a filter that parses, written back out in
//! canonical MLflow syntax by [`render`], parses to the same clauses.

use flotilla_core::filter::{
    Attr, Clause, Comparator, DatasetField, Entity, Field, Operand, parse_filter, parse_order_by,
};

const ENTITIES: [Entity; 5] =
    [Entity::Runs, Entity::Experiments, Entity::RegisteredModels, Entity::ModelVersions, Entity::LoggedModels];

/// First byte: the entity; the rest: the filter text (UTF-8, as every
/// request's filter is).
pub fn filter(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let entity = ENTITIES[usize::from(selector) % ENTITIES.len()];
    let Ok(clauses) = parse_filter(entity, text) else { return };
    let rendered = render(entity, &clauses);
    match parse_filter(entity, &rendered) {
        Ok(again) => assert!(same(&clauses, &again), "{text:?} -> {clauses:?}\nrendered {rendered:?} -> {again:?}"),
        Err(e) => panic!("{text:?} -> {clauses:?}\nrendered {rendered:?} is refused: {e}"),
    }
}

/// First byte: the entity; the rest: one `order_by` entry.
pub fn order_by(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let entity = ENTITIES[usize::from(selector) % ENTITIES.len()];
    if let Ok(order) = parse_order_by(entity, text) {
        // Parsing is a function of the text: a second parse agrees.
        assert_eq!(parse_order_by(entity, text).ok(), Some(order));
    }
}

/// Equal clauses, where NaN equals NaN (a number can only be finite or
/// infinite here, but the comparison should not depend on that).
fn same(a: &[Clause], b: &[Clause]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.field == y.field
                && x.cmp == y.cmp
                && match (&x.value, &y.value) {
                    (Operand::Num(p), Operand::Num(q)) => p == q || (p.is_nan() && q.is_nan()),
                    (p, q) => p == q,
                }
        })
}

/// The clauses in canonical syntax: backquoted keys, single-quoted strings,
/// `attributes.` names, upper-case keywords.
pub fn render(entity: Entity, clauses: &[Clause]) -> String {
    clauses.iter().map(|c| render_clause(entity, c)).collect::<Vec<_>>().join(" AND ")
}

fn render_clause(entity: Entity, c: &Clause) -> String {
    let field = match &c.field {
        Field::Metric(k) => format!("metrics.{}", backquote(k)),
        Field::Param(k) => format!("params.{}", backquote(k)),
        Field::Tag(k) => format!("tags.{}", backquote(k)),
        Field::Attr(a) => format!("attributes.{}", attr_name(entity, *a)),
        Field::Dataset(d) => format!(
            "datasets.{}",
            match d {
                DatasetField::Name => "name",
                DatasetField::Digest => "digest",
                DatasetField::Context => "context",
            }
        ),
    };
    let cmp = match c.cmp {
        Comparator::Eq => "=",
        Comparator::Ne => "!=",
        Comparator::Gt => ">",
        Comparator::Ge => ">=",
        Comparator::Lt => "<",
        Comparator::Le => "<=",
        Comparator::Like => "LIKE",
        Comparator::ILike => "ILIKE",
        Comparator::In => "IN",
        Comparator::NotIn => "NOT IN",
        Comparator::IsNull => "IS NULL",
        Comparator::IsNotNull => "IS NOT NULL",
    };
    let value = match &c.value {
        Operand::Str(s) => quote(s),
        Operand::Num(n) => number(*n),
        Operand::List(items) => format!("({})", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")),
        Operand::Null => String::new(),
    };
    format!("{field} {cmp} {value}").trim_end().to_owned()
}

fn number(n: f64) -> String {
    if n.is_infinite() { if n > 0.0 { "1e999".into() } else { "-1e999".into() } } else { format!("{n:?}") }
}

fn backquote(key: &str) -> String {
    format!("`{}`", key.replace('`', "``"))
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The name each entity's filter knows an attribute by (`fields.rs`).
fn attr_name(entity: Entity, attr: Attr) -> &'static str {
    match (entity, attr) {
        (Entity::LoggedModels, Attr::CreationTime) => "creation_timestamp",
        (Entity::LoggedModels, Attr::LastUpdateTime) => "last_updated_timestamp",
        (_, Attr::RunId) => "run_id",
        (_, Attr::RunName) => "run_name",
        (_, Attr::Status) => "status",
        (_, Attr::UserId) => "user_id",
        (_, Attr::ArtifactUri) => "artifact_uri",
        (_, Attr::StartTime) => "start_time",
        (_, Attr::EndTime) => "end_time",
        (_, Attr::Name) => "name",
        (_, Attr::ExperimentId) => "experiment_id",
        (_, Attr::CreationTime) => "creation_time",
        (_, Attr::LastUpdateTime) => "last_update_time",
        (_, Attr::VersionNumber) => "version_number",
        (_, Attr::SourcePath) => "source_path",
        (_, Attr::ModelId) => "model_id",
        (_, Attr::ModelType) => "model_type",
        (_, Attr::SourceRunId) => "source_run_id",
    }
}
