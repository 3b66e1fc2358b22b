//! Promotion on PostgreSQL: not yet ported (see `sqlite/promotion.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::fleet::*;
use crate::{PageRequest, Visible};
use flotilla_core::VersionNumber;
use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, MetricOp, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};
use flotilla_core::model::{Page, Tag};

const AREA: &str = "Promotion";

impl crate::fleet::PromotionStore for PgStore {
    fn promote(&self, _rule: &PromotionRule, _dry_run: bool, _ctx: &ChangeContext) -> StoreResult<AliasReport> {
        Err(unported(AREA))
    }

    fn rollback(&self, _batch_id: i64, _ctx: &ChangeContext) -> StoreResult<AliasReport> {
        Err(unported(AREA))
    }

    fn audit_log(&self, _query: &AuditQuery) -> StoreResult<Page<AliasEvent>> {
        Err(unported(AREA))
    }
}
