//! Datasets as entities on PostgreSQL (as `sqlite/datasets.rs`): the rows
//! `log-inputs` and the fleet bulk API make (`record_run_inputs`,
//! `link_version`), the dataset list and page, MLflow's search-datasets, and
//! the profile hook. The lineage edges to versions made from runs are kept
//! by the triggers of PostgreSQL migration 14. The checks of a dataset
//! given with a version and the page sizes are the store's
//! ([`crate::datasets`]); only the SQL is this file's.

use flotilla_core::Error;
use flotilla_core::lineage::{CONTEXT_TAG, DatasetEntity, DatasetSummary};
use flotilla_core::model::{DatasetInput, Page};
use postgres::Row;
use serde_json::json;

use super::sql::{self, Value};
use super::{PgStore, Tx, visible};
use crate::audit::{Change, note};
use crate::datasets::{DatasetQuery, DatasetStore, MAX_SUMMARY_EXPERIMENTS, NewDatasetInput, Readable, page_size};
use crate::error::StoreResult;
use crate::paging;
use crate::sqlite::now_ms;

/// MLflow answers at most this many dataset summaries.
const MAX_SUMMARIES: i64 = 1000;

/// The columns [`entity_at`] reads, for a table aliased `de`.
pub(super) const ENTITY_COLUMNS: &str = "de.name, de.digest, de.source_type, de.source, de.schema, de.profile, \
     de.creation_time, de.run_count, de.version_count, \
     EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name \
             AND (n.creation_time > de.creation_time OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id)))";

/// The entity whose [`ENTITY_COLUMNS`] start at column `at`.
pub(super) fn entity_at(r: &Row, at: usize) -> DatasetEntity {
    DatasetEntity {
        name: r.get(at),
        digest: r.get(at + 1),
        source_type: r.get(at + 2),
        source: r.get(at + 3),
        schema: r.get(at + 4),
        profile: r.get(at + 5),
        creation_timestamp: r.get(at + 6),
        run_count: r.get(at + 7),
        version_count: r.get(at + 8),
        superseded: r.get(at + 9),
    }
}

/// The dataset's id, creating its row if new (its time is now).
fn ensure_entity(
    tx: &mut Tx<'_>,
    name: &str,
    digest: &str,
    source_type: &str,
    source: &str,
    schema: Option<&str>,
    profile: Option<&str>,
) -> StoreResult<i64> {
    tx.execute(
        "INSERT INTO dataset_entities (name, digest, source_type, source, schema, profile, creation_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[&name, &digest, &source_type, &source, &schema, &profile, &now_ms()],
    )?;
    Ok(tx.query_one("SELECT ds_id FROM dataset_entities WHERE name = $1 AND digest = $2", &[&name, &digest])?.get(0))
}

/// Records a run's dataset inputs as entities and usages (inside `log-inputs`'
/// transaction); a new context replaces the old one, versions' edges too.
pub(super) fn record_run_inputs(tx: &mut Tx<'_>, run_key: i64, inputs: &[DatasetInput]) -> StoreResult<()> {
    for input in inputs {
        let d = &input.dataset;
        let ds_id = ensure_entity(
            tx,
            &d.name,
            &d.digest,
            &d.source_type,
            &d.source,
            d.schema.as_deref(),
            d.profile.as_deref(),
        )?;
        let context = input.tags.iter().find(|t| t.key == CONTEXT_TAG).map_or("", |t| t.value.as_str());
        tx.execute(
            "INSERT INTO dataset_runs (ds_id, run_key, context) VALUES ($1, $2, $3)
             ON CONFLICT (ds_id, run_key) DO UPDATE SET context = excluded.context
             WHERE dataset_runs.context <> excluded.context",
            &[&ds_id, &run_key, &context],
        )?;
    }
    Ok(())
}

/// Links a version to the datasets given with it (the fleet bulk API).
pub(super) fn link_version(tx: &mut Tx<'_>, rm_id: i64, version: i64, inputs: &[NewDatasetInput]) -> StoreResult<()> {
    for d in inputs {
        let ds_id = ensure_entity(tx, &d.name, &d.digest, &d.source_type, &d.source, d.schema.as_deref(), None)?;
        tx.execute(
            "INSERT INTO dataset_versions (ds_id, rm_id, version, context, run_key) VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (ds_id, rm_id, version) DO UPDATE SET context = excluded.context",
            &[&ds_id, &rm_id, &version, &d.context],
        )?;
    }
    Ok(())
}

/// The predicate "the caller reads a run or a version that used dataset
/// `ds`" (`None`: everything is readable).
pub(super) fn readable_dataset(readable: &Readable, ds: &str, args: &mut Vec<Value>) -> Option<String> {
    if readable.is_everything() {
        return None;
    }
    let exp = visible::experiments(&readable.experiments, "r.experiment_id", args).unwrap_or_else(|| "TRUE".into());
    let runs = format!(
        "EXISTS (SELECT 1 FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key WHERE du.ds_id = {ds} AND {exp})"
    );
    let models = visible::models(&readable.models, "rm.name", "rm.rm_id", args).unwrap_or_else(|| "TRUE".into());
    let versions = format!(
        "EXISTS (SELECT 1 FROM dataset_versions dv JOIN registered_models rm ON rm.rm_id = dv.rm_id \
         WHERE dv.ds_id = {ds} AND {models})"
    );
    Some(format!("({runs} OR {versions})"))
}

/// The dataset's id and entity, if it exists and the caller may read it.
pub(super) fn find_entity(
    tx: &mut Tx<'_>,
    name: &str,
    digest: &str,
    readable: &Readable,
) -> StoreResult<(i64, DatasetEntity)> {
    let mut args = vec![Value::Text(name.to_string()), Value::Text(digest.to_string())];
    let filter = readable_dataset(readable, "de.ds_id", &mut args).map(|p| format!(" AND {p}")).unwrap_or_default();
    let sql = sql::numbered(&format!(
        "SELECT de.ds_id, {ENTITY_COLUMNS} FROM dataset_entities de WHERE de.name = ? AND de.digest = ?{filter}"
    ));
    match tx.query_opt(&sql, &sql::params(&args))? {
        Some(r) => Ok((r.get(0), entity_at(&r, 1))),
        None => Err(Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found")).into()),
    }
}

impl DatasetStore for PgStore {
    fn list_datasets(&self, query: &DatasetQuery) -> StoreResult<Page<DatasetEntity>> {
        let limit = page_size(&query.page)?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 2)?;
        let mut args = Vec::new();
        let mut preds = Vec::new();
        if let Some(name) = &query.name {
            preds.push("de.name = ?".to_string());
            args.push(Value::Text(name.clone()));
        }
        if let Some(prefix) = query.name_prefix.as_ref().filter(|p| !p.is_empty()) {
            preds.push("de.name >= ? AND de.name < ?".to_string());
            args.push(Value::Text(prefix.clone()));
            args.push(Value::Text(format!("{prefix}\u{10FFFF}")));
        }
        if let Some(c) = &cursor {
            let (Some(name), Some(digest)) = (c[0].as_str(), c[1].as_str()) else {
                return Err(Error::invalid("Invalid page token").into());
            };
            preds.push("(de.name, de.digest) > (?, ?)".to_string());
            args.extend([name, digest].map(|s| Value::Text(s.to_string())));
        }
        if let Some(p) = readable_dataset(&query.readable, "de.ds_id", &mut args) {
            preds.push(p);
        }
        let filter = if preds.is_empty() { String::new() } else { format!("WHERE {}", preds.join(" AND ")) };
        args.push(Value::Int(limit + 1));
        let sql = sql::numbered(&format!(
            "SELECT {ENTITY_COLUMNS} FROM dataset_entities de {filter} ORDER BY de.name, de.digest LIMIT ?"
        ));
        self.read(|tx| {
            let mut items: Vec<DatasetEntity> =
                tx.query(&sql, &sql::params(&args))?.iter().map(|r| entity_at(r, 0)).collect();
            let next_page_token = if items.len() as i64 > limit {
                items.truncate(limit as usize);
                items.last().map(|d| paging::encode(&vec![json!(d.name), json!(d.digest)]))
            } else {
                None
            };
            Ok(Page { items, next_page_token })
        })
    }

    fn get_dataset(&self, name: &str, digest: &str, readable: &Readable) -> StoreResult<DatasetEntity> {
        self.read(|tx| find_entity(tx, name, digest, readable).map(|(_, d)| d))
    }

    fn search_dataset_summaries(&self, experiment_ids: &[String]) -> StoreResult<Vec<DatasetSummary>> {
        if experiment_ids.is_empty() {
            return Err(Error::invalid("SearchDatasets request must specify at least one experiment_id.").into());
        }
        if experiment_ids.len() > MAX_SUMMARY_EXPERIMENTS {
            return Err(Error::invalid(format!(
                "SearchDatasets request cannot specify more than {MAX_SUMMARY_EXPERIMENTS} experiment_ids. \
                 Received {} experiment_ids.",
                experiment_ids.len()
            ))
            .into());
        }
        // Ids that are not integers name no experiment, as in MLflow's filter.
        let ids: Vec<i64> = experiment_ids.iter().filter_map(|i| i.parse::<i64>().ok()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|tx| {
            let rows = tx.query(
                "SELECT DISTINCT r.experiment_id, de.name, de.digest, du.context
                 FROM runs r JOIN dataset_runs du ON du.run_key = r.run_key
                 JOIN dataset_entities de ON de.ds_id = du.ds_id
                 WHERE r.experiment_id = ANY($1) LIMIT $2",
                &[&ids, &MAX_SUMMARIES],
            )?;
            Ok(rows
                .iter()
                .map(|r| DatasetSummary {
                    experiment_id: r.get::<_, i64>(0).to_string(),
                    name: r.get(1),
                    digest: r.get(2),
                    context: flotilla_core::lineage::context_of(r.get(3)),
                })
                .collect())
        })
    }

    fn set_dataset_profile(&self, name: &str, digest: &str, bytes: &[u8], summary: &str) -> StoreResult<()> {
        self.write(|tx| {
            note(Change::new("dataset.set_profile", "dataset", format!("{name}@{digest}")).count(bytes.len()));
            let n = tx.execute(
                "UPDATE dataset_entities SET profile_bytes = $1, profile_summary = $2 WHERE name = $3 AND digest = $4",
                &[&bytes, &summary, &name, &digest],
            )?;
            if n == 0 {
                return Err(Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found")).into());
            }
            Ok(())
        })
    }
}
