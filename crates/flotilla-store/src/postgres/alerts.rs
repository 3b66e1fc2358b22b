//! Alerts on PostgreSQL: not yet ported (see `sqlite/alerts.rs`).

#![allow(unused_imports)]

use super::{PgStore, unported};
use crate::PageRequest;
use crate::alerts::*;
use crate::error::StoreResult;
use crate::health::{Check, Status};
use flotilla_core::VersionNumber;
use flotilla_core::model::Page;

const AREA: &str = "Alerts";

impl crate::alerts::AlertStore for PgStore {
    fn create_rule(&self, _rule: &NewRule, _created_by: &str) -> StoreResult<Rule> {
        Err(unported(AREA))
    }

    fn get_rule(&self, _id: i64) -> StoreResult<Rule> {
        Err(unported(AREA))
    }

    fn list_rules(&self) -> StoreResult<Vec<Rule>> {
        Err(unported(AREA))
    }

    fn update_rule(&self, _id: i64, _rule: &NewRule) -> StoreResult<Rule> {
        Err(unported(AREA))
    }

    fn delete_rule(&self, _id: i64) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn due_events(&self, _now: i64, _limit: usize) -> StoreResult<Vec<DueEvent>> {
        Err(unported(AREA))
    }

    fn record_attempt(&self, _attempt: &Attempt) -> StoreResult<()> {
        Err(unported(AREA))
    }

    fn next_due(&self) -> StoreResult<Option<i64>> {
        Err(unported(AREA))
    }

    fn deliveries(&self, _query: &DeliveryQuery) -> StoreResult<Page<Delivery>> {
        Err(unported(AREA))
    }
}
