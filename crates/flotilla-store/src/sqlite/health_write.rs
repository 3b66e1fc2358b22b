//! Recording a batch of models' health on SQLite in a fixed number of
//! statements, whatever the batch's size (what changes is decided by
//! `crate::health_plan`): the models' names resolved at
//! once, their stored checks read at once, only the checks whose status or
//! value changed written (one upsert), the roll-up counters moved by the
//! status changes summed per fleet, family, partition and tag scope (the
//! changed models' scopes read at once, one upsert; migration 21 having
//! dropped the per-row insert and update triggers of migration 16), and
//! the severities re-scored (one upsert that
//! leaves unchanged rows alone). The daily pass over 10⁶ models is a
//! thousand such batches, not millions of statements.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::error::StoreResult;
use crate::health::{Check, HealthUpdate, Status};
pub(super) use crate::health_plan::Resolved;
use crate::health_plan::{self, Checks, Scope};

/// The batch's known models by name; unknown names are left out.
pub(super) fn resolve(tx: &Connection, updates: &[HealthUpdate]) -> StoreResult<HashMap<String, Resolved>> {
    let names = Value::Array(updates.iter().map(|u| json!(u.model)).collect()).to_string();
    let mut stmt = tx.prepare_cached(
        "SELECT r.name, r.rm_id, m.family_id FROM registered_models r \
         LEFT JOIN fleet_members m ON m.rm_id = r.rm_id \
         WHERE r.name IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([names], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (name, rm_id, family_id) = row?;
        out.insert(name, Resolved { rm_id, family_id });
    }
    Ok(out)
}

fn stored_checks(tx: &Connection, rm_ids: &[i64]) -> StoreResult<HashMap<i64, Checks>> {
    let ids = serde_json::to_string(rm_ids).unwrap_or_else(|_| "[]".into());
    let mut stmt = tx.prepare_cached(
        "SELECT rm_id, check_name, status, value FROM model_health WHERE rm_id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<f64>>(3)?))
    })?;
    let mut out: HashMap<i64, Checks> = HashMap::new();
    for row in rows {
        let (id, c, s, v) = row?;
        if let (Some(c), Some(s)) = (Check::parse(&c), Status::parse(&s)) {
            out.entry(id).or_default().insert(c, (s, v));
        }
    }
    Ok(out)
}

/// The roll-up scopes the batch's models (`?1`, a JSON array of ids) count
/// in beyond the fleet, as migration 16's triggers found them: the family,
/// each partition but the family's last level (the member itself), each tag
/// but flotilla's own.
const MODEL_SCOPES: &str = "\
WITH ids (rm_id) AS (SELECT value FROM json_each(?1))
SELECT m.rm_id, 'family', f.name
FROM ids JOIN fleet_members m ON m.rm_id = ids.rm_id JOIN families f ON f.family_id = m.family_id
UNION ALL
SELECT p.rm_id, 'partition', f.name || '/' || p.key || '=' || p.value
FROM ids JOIN member_partitions p ON p.rm_id = ids.rm_id JOIN fleet_members m ON m.rm_id = p.rm_id
JOIN families f ON f.family_id = m.family_id
WHERE p.key != json_extract(f.levels, '$[#-1]')
UNION ALL
SELECT t.rm_id, 'tag', t.key || '=' || t.value
FROM ids JOIN registered_model_tags t ON t.rm_id = ids.rm_id
WHERE t.key NOT LIKE 'flotilla.%'";

/// Moves the roll-up counters by the batch's status changes: each model's
/// scopes read once, the changes summed per counter ([`health_plan::counter_sums`]),
/// and each counter moved once.
fn move_counters(tx: &Connection, moves: &std::collections::BTreeMap<(i64, Check, Status), i64>) -> StoreResult<()> {
    let mut ids: Vec<i64> = moves.keys().map(|(id, _, _)| *id).collect();
    ids.dedup();
    let mut scopes: HashMap<i64, Vec<Scope>> = HashMap::with_capacity(ids.len());
    let mut stmt = tx.prepare_cached(MODEL_SCOPES)?;
    let rows = stmt.query_map([serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())], |r| {
        Ok((r.get::<_, i64>(0)?, health_plan::scope_kind(&r.get::<_, String>(1)?), r.get::<_, String>(2)?))
    })?;
    for row in rows {
        let (id, kind, scope) = row?;
        scopes.entry(id).or_default().push((kind, scope));
    }
    let rows: Vec<Value> = health_plan::counter_sums(moves, &scopes)
        .into_iter()
        .map(|(kind, scope, check, status, n)| json!([kind, scope, check.as_str(), status.as_str(), n]))
        .collect();
    if !rows.is_empty() {
        tx.prepare_cached(
            "INSERT INTO health_counts (kind, scope, check_name, status, n) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?1) WHERE true \
             ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = n + excluded.n",
        )?
        .execute([Value::Array(rows).to_string()])?;
    }
    Ok(())
}

/// Writes the batch's checks, moves the roll-ups and re-scores the models.
pub(super) fn write_batch(
    tx: &Connection,
    updates: &[HealthUpdate],
    known: &HashMap<String, Resolved>,
    now: i64,
) -> StoreResult<()> {
    let ids = health_plan::touched(updates, known);
    if ids.is_empty() {
        return Ok(());
    }
    let mut state = stored_checks(tx, &ids)?;
    let changes = health_plan::changes(updates, known, &mut state);
    if !changes.rows.is_empty() {
        let rows: Vec<Value> = changes
            .rows
            .iter()
            .map(|(id, check, status, value)| json!([id, check.as_str(), status.as_str(), value]))
            .collect();
        tx.prepare_cached(
            "INSERT INTO model_health (rm_id, check_name, status, value, updated) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2 FROM json_each(?1) WHERE true \
             ON CONFLICT (rm_id, check_name) DO UPDATE SET status = excluded.status, value = excluded.value, \
             updated = excluded.updated",
        )?
        .execute(rusqlite::params![Value::Array(rows).to_string(), now])?;
    }
    if !changes.moves.is_empty() {
        move_counters(tx, &changes.moves)?;
    }
    let scored: Vec<Value> = health_plan::scores(&ids, known, &state)
        .into_iter()
        .map(|(id, family, score)| json!([id, family, score]))
        .collect();
    tx.prepare_cached(
        "INSERT INTO model_health_summary (rm_id, family_id, score, updated) \
         SELECT value ->> 0, value ->> 1, value ->> 2, ?2 FROM json_each(?1) WHERE true \
         ON CONFLICT (rm_id) DO UPDATE SET family_id = excluded.family_id, score = excluded.score, \
         updated = excluded.updated \
         WHERE family_id IS NOT excluded.family_id OR score IS NOT excluded.score",
    )?
    .execute(rusqlite::params![Value::Array(scored).to_string(), now])?;
    Ok(())
}
