//! An imported registered model filed into a family at a partition (family
//! rules): the model keeps its name and joins as the member serving that
//! partition, its ancestors made as the fleet API makes them.

use flotilla_core::fleet::{self, PartitionValue};
use rusqlite::{Connection, OptionalExtension, params};

use super::super::families;
use crate::error::StoreResult;
use crate::import::Outcome;

pub(super) fn join(tx: &Connection, model: &str, family: &str, partition: &[(String, String)]) -> StoreResult<Outcome> {
    let Some(rm_id): Option<i64> = tx
        .prepare_cached("SELECT rm_id FROM registered_models WHERE name = ?")?
        .query_row([model], |r| r.get(0))
        .optional()?
    else {
        return Ok(Outcome::Conflict(vec!["name".into()]));
    };
    let family = families::family(tx, family)?;
    let path: Vec<PartitionValue> = partition.iter().map(|(k, v)| PartitionValue::new(k, v)).collect();
    if path.is_empty() || family.levels.iter().take(path.len()).ne(partition.iter().map(|(k, _)| k)) {
        return Ok(Outcome::Conflict(vec!["family.levels".into()]));
    }
    let membership: Option<(i64, i64)> = tx
        .prepare_cached("SELECT family_id, depth FROM fleet_members WHERE rm_id = ?")?
        .query_row([rm_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let holder = family.find_member(tx, &path)?;
    match (membership, holder) {
        (Some(_), Some(holder)) if holder == rm_id => return Ok(Outcome::Unchanged),
        (Some(_), _) => return Ok(Outcome::Conflict(vec!["family".into()])),
        (None, Some(_)) => return Ok(Outcome::Conflict(vec!["partition".into()])),
        (None, None) => {}
    }
    let (leaf, ancestors) = path.split_last().ok_or_else(|| flotilla_core::Error::internal("empty partition"))?;
    let parent = if ancestors.is_empty() { family.default_rm_id } else { family.ensure_member(tx, ancestors)?.0 };
    tx.prepare_cached(
        "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![rm_id, family.id, path.len() as i64, leaf.value, parent])?;
    let mut level = tx.prepare_cached("INSERT INTO member_partitions (rm_id, key, value) VALUES (?, ?, ?)")?;
    for p in &path {
        level.execute(params![rm_id, p.key, p.value])?;
    }
    let mut tag =
        tx.prepare_cached("INSERT OR REPLACE INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?;
    tag.execute(params![rm_id, fleet::FAMILY_TAG, family.name])?;
    tag.execute(params![rm_id, fleet::PARTITION_TAG, fleet::path_string(&path)])?;
    Ok(Outcome::Inserted)
}
