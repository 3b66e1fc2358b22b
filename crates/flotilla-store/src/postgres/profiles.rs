//! Dataset profiles on PostgreSQL: not yet ported (see `sqlite/profiles.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::profiles::*;
use flotilla_core::VersionNumber;
use flotilla_core::model::*;

const AREA: &str = "Dataset profiles";

impl crate::profiles::DatasetProfileStore for PgStore {
    fn dataset_profile(&self, _name: &str, _digest: &str) -> StoreResult<Option<StoredProfile>> {
        Err(unported(AREA))
    }

    fn dataset_experiments(&self, _name: &str, _digest: &str) -> StoreResult<Vec<String>> {
        Err(unported(AREA))
    }
}
