//! Datasets on PostgreSQL: not yet ported (see `sqlite/datasets.rs`).

#![allow(unused_imports)]

use flotilla_core::lineage::CONTEXT_TAG;
use flotilla_core::model::DatasetInput;

use super::{PgStore, Tx, unported};
use crate::datasets::*;
use crate::error::StoreResult;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::lineage::{DatasetEntity, DatasetSummary};
use flotilla_core::model::Page;

/// Records a run's dataset inputs as entities and usages (inside `log-inputs`'
/// transaction); a new context replaces the old one, versions' edges too.
pub(super) fn record_run_inputs(tx: &mut Tx<'_>, run_key: i64, inputs: &[DatasetInput]) -> StoreResult<()> {
    for input in inputs {
        let d = &input.dataset;
        tx.execute(
            "INSERT INTO dataset_entities (name, digest, source_type, source, schema, profile, creation_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[&d.name, &d.digest, &d.source_type, &d.source, &d.schema, &d.profile, &crate::sqlite::now_ms()],
        )?;
        let ds_id: i64 = tx
            .query_one("SELECT ds_id FROM dataset_entities WHERE name = $1 AND digest = $2", &[&d.name, &d.digest])?
            .get(0);
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

const AREA: &str = "Datasets";

impl crate::datasets::DatasetStore for PgStore {
    fn list_datasets(&self, _query: &DatasetQuery) -> StoreResult<Page<DatasetEntity>> {
        Err(unported(AREA))
    }

    fn get_dataset(&self, _name: &str, _digest: &str, _readable: &Readable) -> StoreResult<DatasetEntity> {
        Err(unported(AREA))
    }

    fn search_dataset_summaries(&self, _experiment_ids: &[String]) -> StoreResult<Vec<DatasetSummary>> {
        Err(unported(AREA))
    }

    fn set_dataset_profile(&self, _name: &str, _digest: &str, _bytes: &[u8], _summary: &str) -> StoreResult<()> {
        Err(unported(AREA))
    }
}
