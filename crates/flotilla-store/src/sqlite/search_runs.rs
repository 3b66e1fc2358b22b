//! `runs/search`: MLflow's filter language over runs, with keyset paging on any
//! ordering (metrics, params, tags or attributes; NULLs last, as MLflow does).

use flotilla_core::filter::{self, Attr, Clause, Comparator, DatasetField, Entity, Field};
use flotilla_core::model::{Page, Run, ViewType};
use flotilla_core::{Error, validation};
use rusqlite::types::Value;

use super::filter_sql::{self, MissingKey};
use super::keyset::{self, SortKey};
use super::{SqliteStore, experiments, rows};
use crate::RunSearchStore;
use crate::error::StoreResult;
use crate::{RunQuery, paging};

/// A string literal for SQL text; used only for keys inside ORDER BY
/// expressions, which are repeated in keyset predicates.
pub(crate) fn literal(s: &str) -> String {
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

fn clause_sql(c: &Clause, args: &mut Vec<Value>) -> StoreResult<String> {
    match &c.field {
        Field::Metric(key) => {
            args.push(Value::Text(key.clone()));
            let pred = filter_sql::compare("lm.value", c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM latest_metrics lm WHERE lm.run_key = r.run_key AND lm.key = ? AND lm.is_nan = 0 AND {pred})"
            ))
        }
        Field::Param(key) => {
            filter_sql::key_value("run_params", "kv.run_key = r.run_key", key, c, MissingKey::NoMatch, args)
        }
        Field::Tag(key) => {
            filter_sql::key_value("run_tags", "kv.run_key = r.run_key", key, c, MissingKey::NoMatch, args)
        }
        Field::Attr(attr) => filter_sql::compare(attr_column(*attr)?, c, args),
        Field::Dataset(DatasetField::Name) | Field::Dataset(DatasetField::Digest) => {
            let column = if c.field == Field::Dataset(DatasetField::Name) { "d.name" } else { "d.digest" };
            let pred = filter_sql::compare(column, c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM run_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_key = r.run_key AND {pred})"
            ))
        }
        Field::Dataset(DatasetField::Context) => {
            let pred = filter_sql::compare("json_extract(t.value, '$[1]')", c, args)?;
            Ok(format!(
                "EXISTS (SELECT 1 FROM run_inputs i, json_each(i.tags_json) t WHERE i.run_key = r.run_key
                 AND json_extract(t.value, '$[0]') = 'mlflow.data.context' AND {pred})"
            ))
        }
    }
}

/// Sort keys for one `order_by` entry; nullable values become two keys so
/// NULLs sort last in both directions.
fn sort_keys(spec: &str, keys: &mut Vec<SortKey>) -> StoreResult<()> {
    let o = filter::parse_order_by(Entity::Runs, spec)?;
    let nullable = |expr: String, keys: &mut Vec<SortKey>| {
        keys.push(SortKey::asc(format!("({expr} IS NULL)")));
        keys.push(SortKey { expr: format!("COALESCE({expr}, 0)"), desc: !o.ascending });
    };
    match &o.field {
        Field::Metric(k) => nullable(
            format!(
                "(SELECT CASE WHEN is_nan THEN NULL ELSE value END FROM latest_metrics WHERE run_key = r.run_key AND key = {})",
                literal(k)
            ),
            keys,
        ),
        Field::Param(k) => {
            nullable(format!("(SELECT value FROM run_params WHERE run_key = r.run_key AND key = {})", literal(k)), keys)
        }
        Field::Tag(k) => {
            nullable(format!("(SELECT value FROM run_tags WHERE run_key = r.run_key AND key = {})", literal(k)), keys)
        }
        Field::Attr(Attr::EndTime) => nullable("r.end_time".into(), keys),
        Field::Attr(a) => keys.push(SortKey { expr: attr_column(*a)?.into(), desc: !o.ascending }),
        Field::Dataset(_) => {
            return Err(Error::invalid(format!("Invalid order_by clause '{spec}'")).into());
        }
    }
    Ok(())
}

impl RunSearchStore for SqliteStore {
    fn search_runs(&self, q: &RunQuery) -> StoreResult<Page<Run>> {
        let limit = validation::page_size(q.page.max_results, validation::RUNS_PAGE, "runs")?;
        validation::list_len("experiment ids", q.experiment_ids.len(), validation::MAX_SEARCH_EXPERIMENT_IDS)?;
        let clauses = filter::parse_filter(Entity::Runs, &q.filter)?;
        filter::check_order_by_count(q.order_by.len())?;
        let mut keys = Vec::new();
        for spec in &q.order_by {
            sort_keys(spec, &mut keys)?;
        }
        if !keys.iter().any(|k| k.expr == "r.start_time") {
            keys.push(SortKey::desc("r.start_time"));
        }
        if !keys.iter().any(|k| k.expr == "r.run_uuid") {
            keys.push(SortKey::asc("r.run_uuid"));
        }
        let cursor = paging::decode_opt(q.page.page_token.as_deref(), keys.len())?;
        let experiment_ids =
            q.experiment_ids.iter().map(|id| experiments::parse_id(id)).collect::<StoreResult<Vec<_>>>()?;

        // One experiment (the usual search) is an equality, so that the
        // `runs_by_experiment` index yields runs already in the default order
        // and the page stops early; a list of them needs a sort.
        let (experiments, experiment_arg) = match experiment_ids.as_slice() {
            [one] => ("r.experiment_id = ?", Value::Integer(*one)),
            many => ("r.experiment_id IN (SELECT value FROM json_each(?))", Value::Text(rows::id_list(many))),
        };
        let mut args: Vec<Value> = vec![experiment_arg];
        let mut sql = format!("SELECT r.run_key, {} FROM runs r WHERE {experiments}", keyset::select_list(&keys));
        match q.view {
            ViewType::ActiveOnly => sql.push_str(" AND r.lifecycle_stage = 'active'"),
            ViewType::DeletedOnly => sql.push_str(" AND r.lifecycle_stage = 'deleted'"),
            ViewType::All => {}
        }
        for c in &clauses {
            if c.cmp == Comparator::In && !matches!(c.field, Field::Attr(Attr::RunId) | Field::Dataset(_)) {
                return Err(Error::invalid("IN is only supported for run_id and dataset fields").into());
            }
            sql.push_str(" AND ");
            sql.push_str(&clause_sql(c, &mut args)?);
        }
        keyset::finish(&mut sql, &keys, cursor.as_deref(), limit, &mut args);
        self.read(|tx| {
            let (run_keys, next) = rows::keyset_page_ids(tx, &sql, &args, keys.len(), limit)?;
            Ok(Page { items: rows::runs_by_keys(tx, &run_keys)?, next_page_token: next })
        })
    }
}
