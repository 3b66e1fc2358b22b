//! Datasets as entities on SQLite: the rows `log-inputs` and the fleet bulk
//! API make (`record_run_inputs`, `link_version`), the dataset list and
//! page, MLflow's search-datasets, and the profile hook. The lineage edges
//! to versions made from runs are kept by the triggers of migration 14.

use flotilla_core::Error;
use flotilla_core::lineage::{CONTEXT_TAG, DatasetEntity, DatasetSummary};
use flotilla_core::model::{DatasetInput, Page};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::json;

use super::{SqliteStore, now_ms, visible};
use crate::audit::{Change, note};
use crate::datasets::{DatasetQuery, DatasetStore, MAX_SUMMARY_EXPERIMENTS, NewDatasetInput, Readable, page_size};
use crate::error::StoreResult;
use crate::paging;

/// MLflow answers at most this many dataset summaries.
const MAX_SUMMARIES: i64 = 1000;

/// The columns [`entity_at`] reads, for a table aliased `de`.
pub(super) const ENTITY_COLUMNS: &str = "de.name, de.digest, de.source_type, de.source, de.schema, de.profile, \
     de.creation_time, de.run_count, de.version_count, \
     EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name \
             AND (n.creation_time > de.creation_time OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id)))";

pub(super) fn entity_at(r: &Row<'_>) -> rusqlite::Result<DatasetEntity> {
    Ok(DatasetEntity {
        name: r.get(0)?,
        digest: r.get(1)?,
        source_type: r.get(2)?,
        source: r.get(3)?,
        schema: r.get(4)?,
        profile: r.get(5)?,
        creation_timestamp: r.get(6)?,
        run_count: r.get(7)?,
        version_count: r.get(8)?,
        superseded: r.get(9)?,
    })
}

/// The dataset's id, creating its row if new (its time is now).
fn ensure_entity(
    tx: &Connection,
    name: &str,
    digest: &str,
    source_type: &str,
    source: &str,
    schema: Option<&str>,
    profile: Option<&str>,
) -> StoreResult<i64> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO dataset_entities (name, digest, source_type, source, schema, profile, creation_time)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![name, digest, source_type, source, schema, profile, now_ms()])?;
    Ok(tx
        .prepare_cached("SELECT ds_id FROM dataset_entities WHERE name = ? AND digest = ?")?
        .query_row(params![name, digest], |r| r.get(0))?)
}

/// Records a run's dataset inputs as entities and usages (inside `log-inputs`'
/// transaction); a new context replaces the old one, versions' edges too.
pub(super) fn record_run_inputs(tx: &Connection, run_key: i64, inputs: &[DatasetInput]) -> StoreResult<()> {
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
        tx.prepare_cached(
            "INSERT INTO dataset_runs (ds_id, run_key, context) VALUES (?, ?, ?)
             ON CONFLICT (ds_id, run_key) DO UPDATE SET context = excluded.context WHERE context != excluded.context",
        )?
        .execute(params![ds_id, run_key, context])?;
    }
    Ok(())
}

/// Links a version to the datasets given with it (the fleet bulk API).
pub(super) fn link_version(tx: &Connection, rm_id: i64, version: i64, inputs: &[NewDatasetInput]) -> StoreResult<()> {
    for d in inputs {
        let ds_id = ensure_entity(tx, &d.name, &d.digest, &d.source_type, &d.source, d.schema.as_deref(), None)?;
        tx.prepare_cached(
            "INSERT INTO dataset_versions (ds_id, rm_id, version, context, run_key) VALUES (?, ?, ?, ?, NULL)
             ON CONFLICT (ds_id, rm_id, version) DO UPDATE SET context = excluded.context",
        )?
        .execute(params![ds_id, rm_id, version, d.context])?;
    }
    Ok(())
}

/// The predicate "the caller reads a run or a version that used dataset
/// `ds`" (`None`: everything is readable).
pub(super) fn readable_dataset(readable: &Readable, ds: &str, args: &mut Vec<Value>) -> Option<String> {
    if readable.is_everything() {
        return None;
    }
    let mut parts = Vec::new();
    let exp = visible::experiments(&readable.experiments, "r.experiment_id", args);
    parts.push(format!(
        "EXISTS (SELECT 1 FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key WHERE du.ds_id = {ds} AND {})",
        exp.unwrap_or_else(|| "1".into())
    ));
    let models = visible::models(&readable.models, "rm.name", "rm.rm_id", args);
    parts.push(format!(
        "EXISTS (SELECT 1 FROM dataset_versions dv JOIN registered_models rm ON rm.rm_id = dv.rm_id \
         WHERE dv.ds_id = {ds} AND {})",
        models.unwrap_or_else(|| "1".into())
    ));
    Some(format!("({})", parts.join(" OR ")))
}

/// The dataset's id and entity, if it exists and the caller may read it.
pub(super) fn find_entity(
    tx: &Connection,
    name: &str,
    digest: &str,
    readable: &Readable,
) -> StoreResult<(i64, DatasetEntity)> {
    let mut args = vec![Value::Text(name.to_string()), Value::Text(digest.to_string())];
    let filter = readable_dataset(readable, "de.ds_id", &mut args).map(|p| format!(" AND {p}")).unwrap_or_default();
    let sql = format!(
        "SELECT de.ds_id, {ENTITY_COLUMNS} FROM dataset_entities de WHERE de.name = ? AND de.digest = ?{filter}"
    );
    let found = tx
        .prepare(&sql)?
        .query_row(params_from_iter(args), |r| {
            let id: i64 = r.get(0)?;
            let rest = EntityRow(r);
            Ok((id, rest.entity()?))
        })
        .optional()?;
    found.ok_or_else(|| Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found")).into())
}

/// A row whose entity columns start at 1 (after the id).
struct EntityRow<'a, 'b>(&'a Row<'b>);

impl EntityRow<'_, '_> {
    fn entity(&self) -> rusqlite::Result<DatasetEntity> {
        let r = self.0;
        Ok(DatasetEntity {
            name: r.get(1)?,
            digest: r.get(2)?,
            source_type: r.get(3)?,
            source: r.get(4)?,
            schema: r.get(5)?,
            profile: r.get(6)?,
            creation_timestamp: r.get(7)?,
            run_count: r.get(8)?,
            version_count: r.get(9)?,
            superseded: r.get(10)?,
        })
    }
}

impl DatasetStore for SqliteStore {
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
            preds.push("de.name >= ? AND (de.name > ? OR +de.digest > ?)".to_string());
            args.extend([name, name, digest].map(|s| Value::Text(s.to_string())));
        }
        if let Some(p) = readable_dataset(&query.readable, "de.ds_id", &mut args) {
            preds.push(p);
        }
        let filter = if preds.is_empty() { String::new() } else { format!("WHERE {}", preds.join(" AND ")) };
        args.push(Value::Integer(limit + 1));
        let sql =
            format!("SELECT {ENTITY_COLUMNS} FROM dataset_entities de {filter} ORDER BY de.name, de.digest LIMIT ?");
        self.read(|tx| {
            let mut items =
                tx.prepare(&sql)?.query_map(params_from_iter(args), entity_at)?.collect::<Result<Vec<_>, _>>()?;
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
        let ids: Vec<Value> = experiment_ids.iter().filter_map(|i| i.parse::<i64>().ok()).map(Value::Integer).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT DISTINCT r.experiment_id, de.name, de.digest, du.context
             FROM runs r JOIN dataset_runs du ON du.run_key = r.run_key
             JOIN dataset_entities de ON de.ds_id = du.ds_id
             WHERE r.experiment_id IN ({marks}) LIMIT {MAX_SUMMARIES}"
        );
        self.read(|tx| {
            let rows = tx
                .prepare(&sql)?
                .query_map(params_from_iter(ids), |r| {
                    Ok(DatasetSummary {
                        experiment_id: r.get::<_, i64>(0)?.to_string(),
                        name: r.get(1)?,
                        digest: r.get(2)?,
                        context: flotilla_core::lineage::context_of(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn set_dataset_profile(&self, name: &str, digest: &str, bytes: &[u8], summary: &str) -> StoreResult<()> {
        self.write(|tx| {
            note(Change::new("dataset.set_profile", "dataset", format!("{name}@{digest}")).count(bytes.len()));
            let n = tx
                .prepare_cached(
                    "UPDATE dataset_entities SET profile_bytes = ?, profile_summary = ? WHERE name = ? AND digest = ?",
                )?
                .execute(params![bytes, summary, name, digest])?;
            if n == 0 {
                return Err(Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found")).into());
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use flotilla_core::model::{Dataset, DatasetInput, Tag};

    use super::*;
    use crate::prelude::*;
    use crate::{NewModelVersion, NewRun};

    /// Migration 14's backfill, run on what a store held before it: MLflow's
    /// per-experiment rows become entities, usages with their context, and
    /// edges to the versions made from the runs, counted.
    #[test]
    fn migration_backfills_what_log_inputs_stored_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let run = store.create_run(&NewRun { experiment_id: "0".into(), ..NewRun::default() }).unwrap().info.run_id;
        let input = |digest: &str, tags: Vec<Tag>| DatasetInput {
            tags,
            dataset: Dataset {
                name: "sales".into(),
                digest: digest.into(),
                source_type: "local".into(),
                source: "{}".into(),
                schema: None,
                profile: None,
            },
        };
        let inputs = [input("d1", vec![Tag::new("mlflow.data.context", "training")]), input("d2", vec![])];
        store.log_inputs(&run, &inputs, &[]).unwrap();
        store.create_registered_model("m", &[], None).unwrap();
        let new = NewModelVersion { name: "m".into(), source: "x".into(), run_id: Some(run), ..Default::default() };
        store.create_model_version(&new).unwrap();
        let migration = include_str!("migrations/0014_datasets_lineage.sql");
        let backfill = &migration[migration.find("-- Backfill").unwrap()..];
        let counts = |tx: &Connection| -> StoreResult<Vec<(String, i64, i64, String)>> {
            let sql = "SELECT de.digest, de.run_count, de.version_count, du.context FROM dataset_entities de
                       JOIN dataset_runs du ON du.ds_id = de.ds_id ORDER BY de.digest";
            let mut stmt = tx.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let before = store.read(counts).unwrap();
        let after = store
            .write(|tx| {
                tx.execute_batch(
                    "DELETE FROM dataset_versions; DELETE FROM dataset_family_counts; DELETE FROM dataset_runs;
                     DELETE FROM dataset_entities;",
                )?;
                tx.execute_batch(backfill)?;
                counts(tx)
            })
            .unwrap();
        assert_eq!(before, [("d1".into(), 1, 1, "training".into()), ("d2".into(), 1, 1, String::new())]);
        assert_eq!(after, before);
    }
}
