//! Dataset profiles on SQLite: the columns `profile_bytes` and
//! `profile_summary` of `dataset_entities` (migration 14).

use flotilla_core::Error;
use rusqlite::OptionalExtension;

use super::SqliteStore;
use crate::error::StoreResult;
use crate::profiles::{DatasetProfileStore, MAX_PROFILE_EXPERIMENTS, StoredProfile};

fn no_dataset(name: &str, digest: &str) -> Error {
    Error::not_found(format!("Dataset '{name}' with digest '{digest}' not found"))
}

impl DatasetProfileStore for SqliteStore {
    fn dataset_profile(&self, name: &str, digest: &str) -> StoreResult<Option<StoredProfile>> {
        self.read(|tx| {
            let row: Option<(Option<Vec<u8>>, Option<String>)> = tx
                .prepare_cached(
                    "SELECT profile_bytes, profile_summary FROM dataset_entities WHERE name = ?1 AND digest = ?2",
                )?
                .query_row([name, digest], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match row {
                None => Err(no_dataset(name, digest).into()),
                Some((Some(bytes), Some(summary))) => Ok(Some(StoredProfile { bytes, summary })),
                Some(_) => Ok(None),
            }
        })
    }

    fn dataset_experiments(&self, name: &str, digest: &str) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let ds_id: Option<i64> = tx
                .prepare_cached("SELECT ds_id FROM dataset_entities WHERE name = ?1 AND digest = ?2")?
                .query_row([name, digest], |r| r.get(0))
                .optional()?;
            let ds_id = ds_id.ok_or_else(|| no_dataset(name, digest))?;
            let mut stmt = tx.prepare_cached(
                "SELECT DISTINCT r.experiment_id FROM dataset_runs du JOIN runs r ON r.run_key = du.run_key \
                 WHERE du.ds_id = ?1 LIMIT ?2",
            )?;
            let ids =
                stmt.query_map(rusqlite::params![ds_id, MAX_PROFILE_EXPERIMENTS as i64], |r| r.get::<_, i64>(0))?;
            Ok(ids.map(|id| id.map(|id| id.to_string())).collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
