//! Families on PostgreSQL: not yet ported (see `sqlite/families.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet::*;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

const AREA: &str = "Families";

impl crate::fleet::FamilyStore for PgStore {
    fn create_family_owned(&self, _family: &NewFamily, _owner: Option<i64>) -> StoreResult<Family> {
        Err(unported(AREA))
    }

    fn get_family(&self, _name: &str) -> StoreResult<Family> {
        Err(unported(AREA))
    }

    fn list_families(&self, _page: &PageRequest, _visible: &Visible) -> StoreResult<Page<Family>> {
        Err(unported(AREA))
    }

    fn resolve_partition(
        &self,
        _family: &str,
        _partition: &[PartitionValue],
        _alias: &str,
    ) -> StoreResult<PartitionTarget> {
        Err(unported(AREA))
    }
}
