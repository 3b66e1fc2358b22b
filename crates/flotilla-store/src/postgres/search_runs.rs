//! `runs/search` as SQL on PostgreSQL (as `sqlite/search_runs.rs`): MLflow's
//! filter clauses over runs and the sort keys of any ordering (NULLs last).

use flotilla_core::Error;
use flotilla_core::filter::{Attr, Clause, DatasetField, Field, OrderBy};

use super::sql::{self, SortKey, Value};
use crate::error::StoreResult;

/// A string literal for SQL text; used only for keys inside ORDER BY
/// expressions, which are repeated in keyset predicates.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn attr_column(attr: Attr) -> StoreResult<&'static str> {
    Ok(match attr {
        Attr::RunId => "r.run_uuid",
        Attr::RunName => "r.name",
        Attr::Status => "r.status",
        Attr::UserId => "r.user_id",
        Attr::ArtifactUri => "r.artifact_uri",
        Attr::StartTime => "r.start_time",
        Attr::EndTime => "r.end_time",
        Attr::Name
        | Attr::ExperimentId
        | Attr::CreationTime
        | Attr::LastUpdateTime
        | Attr::VersionNumber
        | Attr::SourcePath
        | Attr::ModelId
        | Attr::ModelType
        | Attr::SourceRunId => {
            return Err(Error::invalid(format!("Invalid attribute {attr:?} for runs")).into());
        }
    })
}

pub(super) fn clause_sql(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    match &c.field {
        Field::Metric(key) => {
            args.push(Value::Text(key.clone()));
            let pred = sql::compare("lm.value", c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM latest_metrics lm WHERE lm.run_key = r.run_key AND lm.key = ? AND NOT lm.is_nan AND {pred})"
            ))
        }
        Field::Param(key) => sql::tag_exists("run_params", "run_key", "r.run_key", key, c, args),
        Field::Tag(key) => sql::tag_exists("run_tags", "run_key", "r.run_key", key, c, args),
        Field::Attr(attr) => sql::compare(attr_column(*attr)?, c, args),
        Field::Dataset(DatasetField::Name) | Field::Dataset(DatasetField::Digest) => {
            let column = if c.field == Field::Dataset(DatasetField::Name) { "d.name" } else { "d.digest" };
            let pred = sql::compare(column, c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM run_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_key = r.run_key AND {pred})"
            ))
        }
        Field::Dataset(DatasetField::Context) => {
            let pred = sql::compare("(t.value ->> 1)", c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM run_inputs i, jsonb_array_elements(i.tags_json::jsonb) t(value)
                 WHERE i.run_key = r.run_key AND (t.value ->> 0) = 'mlflow.data.context' AND {pred})"
            ))
        }
    }
}

/// Sort keys for one `order_by` entry; nullable values become two keys so
/// NULLs sort last in both directions.
pub(super) fn sort_keys(o: &OrderBy, keys: &mut Vec<SortKey>) -> StoreResult<()> {
    let nullable = |expr: String, zero: &str, keys: &mut Vec<SortKey>| {
        keys.push(SortKey::asc(format!("({expr} IS NULL)")));
        keys.push(SortKey { expr: format!("COALESCE({expr}, {zero})"), desc: !o.ascending });
    };
    match &o.field {
        Field::Metric(k) => nullable(
            format!(
                "(SELECT CASE WHEN is_nan THEN NULL ELSE value END FROM latest_metrics WHERE run_key = r.run_key AND key = {})",
                literal(k)
            ),
            "0",
            keys,
        ),
        Field::Param(k) => nullable(
            format!("(SELECT value FROM run_params WHERE run_key = r.run_key AND key = {})", literal(k)),
            "''",
            keys,
        ),
        Field::Tag(k) => nullable(
            format!("(SELECT value FROM run_tags WHERE run_key = r.run_key AND key = {})", literal(k)),
            "''",
            keys,
        ),
        Field::Attr(Attr::EndTime) => nullable("r.end_time".into(), "0", keys),
        Field::Attr(a) => keys.push(SortKey { expr: attr_column(*a)?.into(), desc: !o.ascending }),
        Field::Dataset(_) => return Err(sql::unsupported(&o.field, "ordering")),
    }
    Ok(())
}
