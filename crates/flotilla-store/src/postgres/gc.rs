//! Garbage collection on PostgreSQL: not yet ported (see `sqlite/gc.rs`).

use super::{PgStore, unported};
use crate::error::StoreResult;
use crate::gc::{GcPlan, GcQuery, GcStore};

const AREA: &str = "Garbage collection (flotilla gc)";

impl GcStore for PgStore {
    fn gc_plan(&self, _query: &GcQuery) -> StoreResult<GcPlan> {
        Err(unported(AREA))
    }

    fn gc_purge(&self, _plan: &GcPlan) -> StoreResult<GcPlan> {
        Err(unported(AREA))
    }

    fn experiment_locations(&self) -> StoreResult<Vec<String>> {
        Err(unported(AREA))
    }
}
