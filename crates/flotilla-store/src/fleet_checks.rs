//! Backend-neutral rules of the fleet's bulk writes and promotions: which
//! items and rules are refused and in what words, how a refusal names every
//! failing item, and the form a promotion rule is kept in. Both backends
//! (`sqlite/bulk.rs`, `postgres/bulk.rs`, and the two `promotion.rs`) call
//! these, so the same request gets the same answer on either; only their
//! SQL differs.

use flotilla_core::fleet::PartitionValue;
use flotilla_core::{Error, ErrorKind, validation};

use crate::error::{StoreError, StoreResult};
use crate::fleet::{BulkVersion, ModelAddress, PromotionRule};

/// Items a bulk request may carry.
pub(crate) const MAX_BULK_ITEMS: usize = 10_000;
/// Most datasets one version is registered with.
const MAX_DATASETS_PER_VERSION: usize = 100;
const MAX_REPORTED_FAILURES: usize = 20;

/// Collects per-item failures; `finish` turns them into one error naming them.
#[derive(Default)]
pub(crate) struct ItemErrors(Vec<String>);

impl ItemErrors {
    /// The item's value, or `None` when the item is refused (noted for
    /// `finish`). Only a client's mistake refuses an item: a failure of the
    /// store itself (a serialization failure to retry, a lost connection, a
    /// spent budget) fails the whole call as it is, never as "item refused".
    pub fn check<T>(&mut self, index: usize, result: StoreResult<T>) -> StoreResult<Option<T>> {
        let e = match result {
            Ok(v) => return Ok(Some(v)),
            Err(e) => e,
        };
        if matches!(e, StoreError::Domain(_)) && is_client_mistake(e.kind()) {
            self.0.push(format!("item {index}: {}", message(&e)));
            return Ok(None);
        }
        Err(e)
    }

    pub fn finish(self, what: &str) -> StoreResult<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let shown = self.0.iter().take(MAX_REPORTED_FAILURES).cloned().collect::<Vec<_>>().join("; ");
        let more = self.0.len().saturating_sub(MAX_REPORTED_FAILURES);
        let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
        Err(Error::invalid(format!("{what}: {} item(s) refused, nothing was applied: {shown}{tail}", self.0.len()))
            .into())
    }
}

fn is_client_mistake(kind: ErrorKind) -> bool {
    match kind {
        ErrorKind::InvalidParameter
        | ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict
        | ErrorKind::Unauthenticated
        | ErrorKind::PermissionDenied
        | ErrorKind::Unservable
        | ErrorKind::TooLarge => true,
        ErrorKind::Busy | ErrorKind::Interrupted | ErrorKind::Internal => false,
    }
}

fn message(e: &StoreError) -> String {
    match e {
        StoreError::Domain(err) => err.message.clone(),
        other @ (StoreError::Database(_)
        | StoreError::Migration { .. }
        | StoreError::Postgres(_)
        | StoreError::Pool(_)
        | StoreError::PgMigration { .. }
        | StoreError::SchemaTooNew { .. }
        | StoreError::SchemaTooOld { .. }) => other.to_string(),
    }
}

pub(crate) fn check_batch_size(n: usize, what: &str) -> StoreResult<()> {
    if n == 0 || n > MAX_BULK_ITEMS {
        return Err(Error::invalid(format!("{what} takes 1 to {MAX_BULK_ITEMS} items, got {n}")).into());
    }
    Ok(())
}

pub(crate) fn check_version(v: &BulkVersion) -> StoreResult<()> {
    if v.source.is_empty() {
        return Err(Error::invalid("missing 'source'").into());
    }
    check_source_row(&v.source)?;
    validation::list_len("tags", v.tags.len(), validation::MAX_TAGS_PER_REQUEST)?;
    validation::list_len("metrics", v.metrics.len(), validation::MAX_METRICS_PER_BATCH)?;
    validation::list_len("aliases", v.aliases.len(), validation::MAX_ALIASES_PER_VERSION)?;
    for t in &v.tags {
        validation::entity_key("Tag", &t.key)?;
        validation::value_length("Tag", &t.key, &t.value, validation::MAX_REGISTRY_TAG_VALUE_LENGTH)?;
    }
    for (key, value) in &v.metrics {
        validation::entity_key("Metric", key)?;
        if !value.is_finite() {
            return Err(Error::invalid(format!("metric '{key}' must be a finite number")).into());
        }
    }
    v.aliases.iter().try_for_each(|a| validation::alias(a))?;
    validation::list_len("datasets", v.datasets.len(), MAX_DATASETS_PER_VERSION)?;
    v.datasets.iter().try_for_each(crate::datasets::check_input)?;
    match &v.model {
        ModelAddress::Name { model } => validation::model_name(model)?,
        ModelAddress::Partition { partition, .. } => partition.iter().try_for_each(PartitionValue::validate)?,
    }
    Ok(())
}

/// The store cannot see the artifact crate's URI parser; the HTTP layer
/// checks sources fully. Here only what would corrupt a row is refused.
fn check_source_row(source: &str) -> StoreResult<()> {
    if source.contains('\0') {
        return Err(Error::invalid("source contains a NUL byte").into());
    }
    Ok(())
}

/// Checks a promotion rule before anything is read.
pub(crate) fn check_rule(rule: &PromotionRule) -> StoreResult<()> {
    validation::alias(&rule.alias)?;
    validation::entity_key("Metric", &rule.metric)?;
    if !rule.factor.is_finite() || rule.factor <= 0.0 {
        return Err(Error::invalid(format!("rule factor must be a positive number, got {}", rule.factor)).into());
    }
    rule.partition.iter().try_for_each(PartitionValue::validate)?;
    Ok(())
}

/// The rule as the audit log keeps it (`alias_batches.rule`): a JSON object
/// with the rule's fields in declaration order, as written since migration 2.
pub(crate) fn stored_rule(rule: &PromotionRule) -> StoreResult<String> {
    let json = |v: Result<String, serde_json::Error>| v.map_err(|e| Error::internal(e.to_string()));
    Ok(format!(
        r#"{{"family":{},"alias":{},"metric":{},"op":{},"factor":{},"promote_unaliased":{},"partition":{}}}"#,
        json(serde_json::to_string(&rule.family))?,
        json(serde_json::to_string(&rule.alias))?,
        json(serde_json::to_string(&rule.metric))?,
        json(serde_json::to_string(&rule.op))?,
        json(serde_json::to_string(&rule.factor))?,
        rule.promote_unaliased,
        json(serde_json::to_string(&rule.partition))?,
    ))
}

/// Refuses a rollback when aliases of the batch moved since: `moved` of them,
/// `conflicts` the first few described.
pub(crate) fn rollback_conflicts(batch_id: i64, moved: usize, conflicts: &[String]) -> StoreResult<()> {
    if moved == 0 {
        return Ok(());
    }
    Err(Error::invalid_state(format!(
        "cannot roll back batch {batch_id}: {moved} alias(es) moved since, nothing was changed: {}",
        conflicts.join("; ")
    ))
    .into())
}

/// How many moved aliases a rollback refusal describes.
pub(crate) const MAX_DESCRIBED_CONFLICTS: usize = 20;

/// One moved alias, as a rollback refusal describes it.
pub(crate) fn rollback_conflict(model: &str, alias: &str, now_at: Option<i64>, left_at: Option<i64>) -> String {
    let show = |v: Option<i64>| v.map_or_else(|| "nothing".to_string(), |v| format!("version {v}"));
    format!("{model}@{alias} is at {} now, not {}", show(now_at), show(left_at))
}

/// Refuses a rollback of a batch that does not exist or was rolled back:
/// `reverted` is `None` for no batch, `Some(by)` for its `reverted_by`.
pub(crate) fn check_rollback_target(batch_id: i64, reverted: Option<Option<i64>>) -> StoreResult<()> {
    match reverted {
        None => Err(Error::not_found(format!("batch {batch_id} does not exist")).into()),
        Some(Some(by)) => {
            Err(Error::invalid_state(format!("batch {batch_id} was already rolled back by batch {by}")).into())
        }
        Some(None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rules_are_stored_as_before() {
        let rule = super::PromotionRule {
            family: "demand".into(),
            alias: "champion".into(),
            metric: "val \"rmse\"".into(),
            op: flotilla_core::fleet::MetricOp::Le,
            factor: 1.0,
            promote_unaliased: true,
            partition: vec![flotilla_core::fleet::PartitionValue::new("region", "west")],
        };
        assert_eq!(
            super::stored_rule(&rule).unwrap(),
            r#"{"family":"demand","alias":"champion","metric":"val \"rmse\"","op":"<=","factor":1.0,"promote_unaliased":true,"partition":[{"key":"region","value":"west"}]}"#
        );
    }

    #[test]
    fn refusals_name_every_item_up_to_a_cap() {
        let mut errors = super::ItemErrors::default();
        for i in 0..25 {
            assert_eq!(
                errors.check::<()>(i, Err(flotilla_core::Error::invalid(format!("bad {i}")).into())).unwrap(),
                None
            );
        }
        let text = errors.finish("bulk registration").unwrap_err().to_string();
        assert!(text.contains("25 item(s) refused") && text.contains("item 19: bad 19"), "{text}");
        assert!(!text.contains("item 20:") && text.ends_with("; and 5 more"), "{text}");
        assert!(super::ItemErrors::default().finish("x").is_ok());
        // The store's own failures are no item's fault: they fail the call as they are.
        let internal = super::ItemErrors::default().check::<()>(0, Err(flotilla_core::Error::internal("disk").into()));
        assert_eq!(internal.unwrap_err().kind(), flotilla_core::ErrorKind::Internal);
        assert!(super::check_batch_size(0, "x").is_err() && super::check_batch_size(10_001, "x").is_err());
        assert!(super::check_batch_size(10_000, "x").is_ok());
    }
}
