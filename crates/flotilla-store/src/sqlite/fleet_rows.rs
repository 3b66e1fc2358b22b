//! A page of fleet models loaded whole: a fixed number of queries for the
//! page's ids (models, partitions, aliases, tags, family levels), in the
//! page's order.

use flotilla_core::Error;
use flotilla_core::fleet::{AliasTarget, FleetModel, PartitionValue};
use rusqlite::Connection;
use serde_json::Value as JsonValue;

use super::{keyset, rows};
use crate::error::StoreResult;

/// Loads a page of models in a fixed number of queries, in the page's order.
pub(super) fn fleet_models(tx: &Connection, ids: &[i64]) -> StoreResult<Vec<FleetModel>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let json_ids = serde_json::to_string(ids).map_err(|e| Error::internal(e.to_string()))?;
    let mut models: Vec<FleetModel> = Vec::with_capacity(ids.len());
    let mut position = std::collections::HashMap::with_capacity(ids.len());
    {
        let mut stmt = tx.prepare_cached(
            "SELECT rm.rm_id, rm.name, rm.creation_time, rm.last_update_time,
                    (SELECT max(version) FROM model_versions v WHERE v.rm_id = rm.rm_id),
                    (SELECT f.name FROM fleet_members fm JOIN families f ON f.family_id = fm.family_id WHERE fm.rm_id = rm.rm_id)
             FROM json_each(?) j JOIN registered_models rm ON rm.rm_id = j.value ORDER BY j.key",
        )?;
        let rows = stmt.query_map([&json_ids], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                FleetModel {
                    name: r.get(1)?,
                    creation_timestamp: r.get(2)?,
                    last_updated_timestamp: r.get(3)?,
                    latest_version: rows::opt_version_at(r, 4)?,
                    family: r.get(5)?,
                    partition: Vec::new(),
                    aliases: Vec::new(),
                    tags: Vec::new(),
                },
            ))
        })?;
        for row in rows {
            let (id, model) = row?;
            position.insert(id, models.len());
            models.push(model);
        }
    }
    let each = |sql: &str| -> StoreResult<Vec<(i64, String, JsonValue)>> {
        Ok(tx
            .prepare_cached(sql)?
            .query_map([&json_ids], |r| Ok((r.get(0)?, r.get(1)?, keyset::to_json(r.get_ref(2)?))))?
            .collect::<Result<_, _>>()?)
    };
    for (id, key, value) in each(
        "SELECT p.rm_id, p.key, p.value FROM json_each(?) j JOIN member_partitions p ON p.rm_id = j.value
         JOIN fleet_members fm ON fm.rm_id = p.rm_id",
    )? {
        if let Some(&i) = position.get(&id) {
            models[i].partition.push(PartitionValue::new(key, value.as_str().unwrap_or_default()));
        }
    }
    for (id, alias, version) in each(
        "SELECT a.rm_id, a.alias, a.version FROM json_each(?) j JOIN registered_model_aliases a ON a.rm_id = j.value ORDER BY a.alias",
    )? {
        if let Some(&i) = position.get(&id) {
            models[i]
                .aliases
                .push(AliasTarget { alias, version: rows::version(version.as_i64().unwrap_or_default())? });
        }
    }
    for (id, key, value) in each(
        "SELECT t.rm_id, t.key, t.value FROM json_each(?) j JOIN registered_model_tags t ON t.rm_id = j.value ORDER BY t.key",
    )? {
        if let Some(&i) = position.get(&id) {
            models[i].tags.push((key, value.as_str().unwrap_or_default().to_string()));
        }
    }
    // Partition levels come back in key order; put them in the family's level order.
    let levels = family_levels(tx, &json_ids)?;
    for m in &mut models {
        if let Some(order) = m.family.as_ref().and_then(|f| levels.get(f)) {
            m.partition.sort_by_key(|p| order.iter().position(|l| *l == p.key));
        }
    }
    Ok(models)
}

fn family_levels(tx: &Connection, json_ids: &str) -> StoreResult<std::collections::HashMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = tx
        .prepare_cached(
            "SELECT DISTINCT f.name, f.levels FROM json_each(?) j JOIN fleet_members fm ON fm.rm_id = j.value
             JOIN families f ON f.family_id = fm.family_id",
        )?
        .query_map([json_ids], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows.into_iter().map(|(name, levels)| (name, serde_json::from_str(&levels).unwrap_or_default())).collect())
}
