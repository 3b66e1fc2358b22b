//! Lineage on PostgreSQL: not yet ported (see `sqlite/lineage.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::PageRequest;
use crate::datasets::Readable;
use crate::error::StoreResult;
use crate::lineage::*;
use flotilla_core::VersionNumber;
use flotilla_core::lineage::{Downstream, StaleVersion, Upstream};
use flotilla_core::model::Page;

const AREA: &str = "Lineage";

impl crate::lineage::LineageStore for PgStore {
    fn downstream(&self, _query: &DownstreamQuery) -> StoreResult<Downstream> {
        Err(unported(AREA))
    }

    fn upstream(&self, _model: &str, _version: VersionNumber, _readable: &Readable) -> StoreResult<Upstream> {
        Err(unported(AREA))
    }

    fn stale_versions(&self, _query: &StaleQuery) -> StoreResult<Page<StaleVersion>> {
        Err(unported(AREA))
    }
}
