//! Recording a batch of models' health on SQLite in a fixed number of
//! statements, whatever the batch's size: the models' names resolved at
//! once, their stored checks read at once, only the checks whose status or
//! value changed written (one upsert), the roll-up counters moved by the
//! summed status changes (one upsert over the fleet, family, partition and
//! tag scopes, migration 21 having dropped the per-row insert and update
//! triggers of migration 16), and the severities re-scored (one upsert that
//! leaves unchanged rows alone). The daily pass over 10⁶ models is a
//! thousand such batches, not millions of statements.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Transaction;
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
pub(super) fn resolve(tx: &Transaction<'_>, updates: &[HealthUpdate]) -> StoreResult<HashMap<String, Resolved>> {
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

fn stored_checks(tx: &Transaction<'_>, rm_ids: &[i64]) -> StoreResult<HashMap<i64, Checks>> {
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

/// The roll-up scopes of a model, as migration 16's triggers found them.
const MOVE_COUNTERS: &str = "\
WITH d (rm_id, check_name, status, n) AS (
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)
)
INSERT INTO health_counts (kind, scope, check_name, status, n)
SELECT kind, scope, check_name, status, sum(n) FROM (
    SELECT 'fleet' AS kind, '' AS scope, check_name, status, n FROM d
    UNION ALL
    SELECT 'family', f.name, d.check_name, d.status, d.n
    FROM d JOIN fleet_members m ON m.rm_id = d.rm_id JOIN families f ON f.family_id = m.family_id
    UNION ALL
    SELECT 'partition', f.name || '/' || p.key || '=' || p.value, d.check_name, d.status, d.n
    FROM d JOIN member_partitions p ON p.rm_id = d.rm_id JOIN fleet_members m ON m.rm_id = p.rm_id
    JOIN families f ON f.family_id = m.family_id
    WHERE p.key != json_extract(f.levels, '$[#-1]')
    UNION ALL
    SELECT 'tag', t.key || '=' || t.value, d.check_name, d.status, d.n
    FROM d JOIN registered_model_tags t ON t.rm_id = d.rm_id
    WHERE t.key NOT LIKE 'flotilla.%'
) WHERE true GROUP BY kind, scope, check_name, status
ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = n + excluded.n";

/// Writes the batch's checks, moves the roll-ups and re-scores the models.
pub(super) fn write_batch(
    tx: &Transaction<'_>,
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
        let moves: Vec<Value> =
            changes.moves.iter().map(|((id, c, s), n)| json!([id, c.as_str(), s.as_str(), n])).collect();
        tx.prepare_cached(MOVE_COUNTERS)?.execute([Value::Array(moves).to_string()])?;
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
