//! Dataset profiles on PostgreSQL: the columns `profile_bytes` and
//! `profile_summary` of `dataset_entities` (migration 14), as on SQLite.

use flotilla_core::Error;

use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::profiles::{DatasetProfileStore, MAX_PROFILE_EXPERIMENTS, StoredProfile};

fn no_dataset(name: &str, digest: &str) -> Error {
    Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found"))
}

fn ds_id(tx: &mut Tx<'_>, name: &str, digest: &str) -> StoreResult<i64> {
    Ok(tx
        .query_opt("SELECT ds_id FROM dataset_entities WHERE name = $1 AND digest = $2", &[&name, &digest])?
        .ok_or_else(|| no_dataset(name, digest))?
        .get(0))
}

impl DatasetProfileStore for PgStore {
    fn dataset_profile(&self, name: &str, digest: &str) -> StoreResult<Option<StoredProfile>> {
        self.read(|tx| {
            let row = tx
                .query_opt(
                    "SELECT profile_bytes, profile_summary FROM dataset_entities WHERE name = $1 AND digest = $2",
                    &[&name, &digest],
                )?
                .ok_or_else(|| no_dataset(name, digest))?;
            Ok(match (row.get::<_, Option<Vec<u8>>>(0), row.get::<_, Option<String>>(1)) {
                (Some(bytes), Some(summary)) => Some(StoredProfile { bytes, summary }),
                (None, _) | (_, None) => None,
            })
        })
    }

    fn dataset_experiments(&self, name: &str, digest: &str) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let ds_id = ds_id(tx, name, digest)?;
            let rows = tx.query(
                "SELECT DISTINCT r.experiment_id FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key
                 WHERE du.ds_id = $1 LIMIT $2",
                &[&ds_id, &(MAX_PROFILE_EXPERIMENTS as i64)],
            )?;
            Ok(rows.iter().map(|r| r.get::<_, i64>(0).to_string()).collect())
        })
    }
}
