//! Bulk changes on PostgreSQL: not yet ported (see `sqlite/bulk.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet::*;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

const AREA: &str = "Bulk changes";

impl crate::fleet::BulkStore for PgStore {
    fn register_versions(
        &self,
        _versions: &[BulkVersion],
        _ctx: &ChangeContext,
    ) -> StoreResult<Vec<RegisteredVersion>> {
        Err(unported(AREA))
    }

    fn set_aliases(&self, _changes: &[AliasChange], _ctx: &ChangeContext) -> StoreResult<AliasReport> {
        Err(unported(AREA))
    }
}
