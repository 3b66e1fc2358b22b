//! A page of fleet models loaded whole on PostgreSQL: a fixed number of
//! queries for the page's ids (bound as one array), in the page's order
//! (as `sqlite/fleet_rows.rs`).

use std::collections::HashMap;

use flotilla_core::fleet::{AliasTarget, FleetModel, PartitionValue};

use super::Tx;
use super::families::version;
use crate::error::StoreResult;

/// Loads a page of models in a fixed number of queries, in the page's order.
pub(super) fn fleet_models(tx: &mut Tx<'_>, ids: &[i64]) -> StoreResult<Vec<FleetModel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids.to_vec();
    let mut models: Vec<FleetModel> = Vec::with_capacity(ids.len());
    let mut position = HashMap::with_capacity(ids.len());
    let rows = tx.query(
        "SELECT rm.rm_id, rm.name, rm.creation_time, rm.last_update_time,
                (SELECT max(version) FROM model_versions v WHERE v.rm_id = rm.rm_id),
                (SELECT f.name FROM fleet_members fm JOIN families f ON f.family_id = fm.family_id
                 WHERE fm.rm_id = rm.rm_id)
         FROM unnest($1::BIGINT[]) WITH ORDINALITY j (id, ord) JOIN registered_models rm ON rm.rm_id = j.id
         ORDER BY j.ord",
        &[&ids],
    )?;
    for r in rows {
        position.insert(r.get::<_, i64>(0), models.len());
        models.push(FleetModel {
            name: r.get(1),
            creation_timestamp: r.get(2),
            last_updated_timestamp: r.get(3),
            latest_version: r.get::<_, Option<i64>>(4).map(version).transpose()?,
            family: r.get(5),
            partition: Vec::new(),
            aliases: Vec::new(),
            tags: Vec::new(),
        });
    }
    let at = |id: i64| position.get(&id).copied();
    for r in tx.query(
        "SELECT p.rm_id, p.key, p.value FROM member_partitions p JOIN fleet_members fm ON fm.rm_id = p.rm_id
         WHERE p.rm_id = ANY($1)",
        &[&ids],
    )? {
        if let Some(i) = at(r.get(0)) {
            models[i].partition.push(PartitionValue::new(r.get::<_, String>(1), r.get::<_, String>(2)));
        }
    }
    for r in tx.query(
        "SELECT rm_id, alias, version FROM registered_model_aliases WHERE rm_id = ANY($1) ORDER BY alias",
        &[&ids],
    )? {
        if let Some(i) = at(r.get(0)) {
            models[i].aliases.push(AliasTarget { alias: r.get(1), version: version(r.get(2))? });
        }
    }
    for r in
        tx.query("SELECT rm_id, key, value FROM registered_model_tags WHERE rm_id = ANY($1) ORDER BY key", &[&ids])?
    {
        if let Some(i) = at(r.get(0)) {
            models[i].tags.push((r.get(1), r.get(2)));
        }
    }
    // Partition levels come back in any order; put them in the family's level order.
    let levels: HashMap<String, Vec<String>> = tx
        .query(
            "SELECT DISTINCT f.name, f.levels FROM fleet_members fm JOIN families f ON f.family_id = fm.family_id
             WHERE fm.rm_id = ANY($1)",
            &[&ids],
        )?
        .iter()
        .map(|r| (r.get(0), serde_json::from_str(r.get::<_, &str>(1)).unwrap_or_default()))
        .collect();
    for m in &mut models {
        if let Some(order) = m.family.as_ref().and_then(|f| levels.get(f)) {
            m.partition.sort_by_key(|p| order.iter().position(|l| *l == p.key));
        }
    }
    Ok(models)
}
