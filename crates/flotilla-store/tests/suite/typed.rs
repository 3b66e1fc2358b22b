//! Typed queries from MLflow's filter and `order_by` text, built as the
//! application layer builds them: the store takes clauses, not text, so the
//! suite parses with `flotilla_core::filter` before it calls the store.

use flotilla_core::Error;
use flotilla_core::filter::{self, Clause, Entity, OrderBy};
use flotilla_store::StoreError;

/// The clauses of `text`, or the client error the parser answers with.
pub fn try_filter(entity: Entity, text: &str) -> Result<Vec<Clause>, StoreError> {
    filter::parse_filter(entity, text).map_err(|e| Error::invalid(e.0).into())
}

/// The clauses of a filter the test knows to be valid.
pub fn filter(entity: Entity, text: &str) -> Vec<Clause> {
    try_filter(entity, text).expect("a valid filter")
}

/// The orderings of `order_by` entries the test knows to be valid.
pub fn order_by(entity: Entity, specs: &[&str]) -> Vec<OrderBy> {
    specs.iter().map(|s| filter::parse_order_by(entity, s).expect("a valid order_by")).collect()
}
