//! Recording a batch of models' health on SQLite in a fixed number of
//! statements, whatever the batch's size: the models' names resolved at
//! once, their stored checks read at once, only the checks whose status or
//! value changed written (one upsert), the roll-up counters moved by the
//! status changes summed per fleet, family, partition and tag scope (the
//! changed models' scopes read at once, one upsert; migration 21 having
//! dropped the per-row insert and update triggers of migration 16), and
//! the severities re-scored (one upsert that
//! leaves unchanged rows alone). The daily pass over 10⁶ models is a
//! thousand such batches, not millions of statements.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::error::StoreResult;
use crate::health::{Check, CheckResult, HealthUpdate, Status, score};

/// A model of the batch as the store knows it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resolved {
    pub rm_id: i64,
    pub family_id: Option<i64>,
}

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

/// SQLite keeps a NaN as NULL and JSON has no infinities: a value is
/// stored (and compared) as what will read back.
fn storable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// A check's stored status and value.
type Stored = (Status, Option<f64>);
/// One model's checks after the batch, by check.
type Checks = BTreeMap<Check, Stored>;

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

/// What a batch changes: the rows to write and the counter moves.
#[derive(Default)]
struct Changes {
    /// `[rm_id, check, status, value]` for each check whose status or value changed.
    rows: Vec<Value>,
    /// Per (model, check, status): +1 for a status entered, −1 for one left.
    moves: BTreeMap<(i64, Check, Status), i64>,
}

fn changes(updates: &[HealthUpdate], known: &HashMap<String, Resolved>, state: &mut HashMap<i64, Checks>) -> Changes {
    // What each touched check held before the batch; later updates of the
    // same model and check win, as they did row by row.
    let mut before: BTreeMap<(i64, Check), Option<Stored>> = BTreeMap::new();
    let mut out = Changes::default();
    for u in updates {
        let Some(r) = known.get(&u.model) else { continue };
        let checks = state.entry(r.rm_id).or_default();
        for &CheckResult { check, status, value } in &u.checks {
            let old = checks.insert(check, (status, storable(value)));
            before.entry((r.rm_id, check)).or_insert(old);
            if old.map(|(s, _)| s) != Some(status) {
                *out.moves.entry((r.rm_id, check, status)).or_insert(0) += 1;
                if let Some((s, _)) = old {
                    *out.moves.entry((r.rm_id, check, s)).or_insert(0) -= 1;
                }
            }
        }
    }
    for ((id, check), old) in before {
        let new = state.get(&id).and_then(|c| c.get(&check)).copied();
        if let Some((status, value)) = new.filter(|n| Some(*n) != old) {
            out.rows.push(json!([id, check.as_str(), status.as_str(), value]));
        }
    }
    out.moves.retain(|_, n| *n != 0);
    out
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
/// scopes read once, the changes summed per counter here, and each counter
/// moved once. (Joining every change to its model's scopes in SQL and
/// grouping there sorted five to seven rows per change: 15 s of the first
/// daily pass at 10⁶ models, where 900,000 statuses moved.)
fn move_counters(tx: &Connection, moves: &BTreeMap<(i64, Check, Status), i64>) -> StoreResult<()> {
    let mut ids: Vec<i64> = moves.keys().map(|(id, _, _)| *id).collect();
    ids.dedup();
    let mut scopes: HashMap<i64, Vec<(&'static str, String)>> = HashMap::with_capacity(ids.len());
    let mut stmt = tx.prepare_cached(MODEL_SCOPES)?;
    let rows = stmt.query_map([serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())], |r| {
        let kind = match r.get::<_, String>(1)?.as_str() {
            "family" => "family",
            "partition" => "partition",
            _ => "tag",
        };
        Ok((r.get::<_, i64>(0)?, kind, r.get::<_, String>(2)?))
    })?;
    for row in rows {
        let (id, kind, scope) = row?;
        scopes.entry(id).or_default().push((kind, scope));
    }
    let mut sums: BTreeMap<(&str, &str, Check, Status), i64> = BTreeMap::new();
    for (&(id, check, status), &n) in moves {
        *sums.entry(("fleet", "", check, status)).or_insert(0) += n;
        for (kind, scope) in scopes.get(&id).into_iter().flatten() {
            *sums.entry((kind, scope, check, status)).or_insert(0) += n;
        }
    }
    // A sum of zero moves nothing: some model left that status there, so its row exists.
    let rows: Vec<Value> = sums
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((kind, scope, check, status), n)| json!([kind, scope, check.as_str(), status.as_str(), n]))
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
    let mut ids: Vec<i64> = updates.iter().filter_map(|u| known.get(&u.model)).map(|r| r.rm_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let mut state = stored_checks(tx, &ids)?;
    let changes = changes(updates, known, &mut state);
    if !changes.rows.is_empty() {
        tx.prepare_cached(
            "INSERT INTO model_health (rm_id, check_name, status, value, updated) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2 FROM json_each(?1) WHERE true \
             ON CONFLICT (rm_id, check_name) DO UPDATE SET status = excluded.status, value = excluded.value, \
             updated = excluded.updated",
        )?
        .execute(rusqlite::params![Value::Array(changes.rows).to_string(), now])?;
    }
    if !changes.moves.is_empty() {
        move_counters(tx, &changes.moves)?;
    }
    let family_of: HashMap<i64, Option<i64>> = known.values().map(|r| (r.rm_id, r.family_id)).collect();
    let scored: Vec<Value> = ids
        .iter()
        .map(|id| {
            let checks: Vec<CheckResult> = state
                .get(id)
                .into_iter()
                .flatten()
                .map(|(&check, &(status, value))| CheckResult { check, status, value })
                .collect();
            json!([id, family_of.get(id).copied().flatten(), score(&checks)])
        })
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
