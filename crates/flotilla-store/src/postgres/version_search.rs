//! Version search on PostgreSQL: not yet ported (see `sqlite/version_search.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet::*;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

const AREA: &str = "Version search";

impl crate::fleet::VersionSearchStore for PgStore {
    fn search_versions(&self, _query: &VersionQuery) -> StoreResult<Page<FleetVersion>> {
        Err(unported(AREA))
    }
}
