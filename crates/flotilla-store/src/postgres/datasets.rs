//! Datasets on PostgreSQL: not yet ported (see `sqlite/datasets.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::datasets::*;
use crate::error::StoreResult;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::lineage::{DatasetEntity, DatasetSummary};
use flotilla_core::model::Page;

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
