//! Fleet search on PostgreSQL: not yet ported (see `sqlite/fleet_search.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet::*;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

const AREA: &str = "Fleet search";

impl crate::fleet::FleetSearchStore for PgStore {
    fn search_fleet(&self, _query: &FleetQuery) -> StoreResult<Page<FleetModel>> {
        Err(unported(AREA))
    }

    fn fleet_facets(&self, _query: &FleetQuery, _tag_keys: &[String]) -> StoreResult<Facets> {
        Err(unported(AREA))
    }
}
