//! Recording a batch of models' health on PostgreSQL in a fixed number of
//! statements (as `sqlite/health_write.rs`; what changes is decided by
//! `crate::health_plan`): the names resolved at once, the stored checks read
//! at once, the changed checks written in one upsert, the roll-up counters
//! moved once each (migration 26 having dropped the per-row insert and
//! update triggers of migration 16), the severities re-scored in one upsert
//! that leaves unchanged rows alone. Batches travel as `unnest` arrays.

use std::collections::{BTreeMap, HashMap};

use super::Tx;
use crate::error::StoreResult;
use crate::health::{Check, HealthUpdate, Status};
use crate::health_plan::{self, Checks, Resolved, Scope};

/// The batch's known models by name; unknown names are left out.
pub(super) fn resolve(tx: &mut Tx<'_>, updates: &[HealthUpdate]) -> StoreResult<HashMap<String, Resolved>> {
    let names: Vec<&str> = updates.iter().map(|u| u.model.as_str()).collect();
    let rows = tx.query(
        // A join on the names (a probe of the name index each), whatever the statistics say.
        "SELECT r.name, r.rm_id, m.family_id FROM unnest($1::text[]) AS n (name) \
         JOIN registered_models r ON r.name = n.name LEFT JOIN fleet_members m ON m.rm_id = r.rm_id",
        &[&names],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), Resolved { rm_id: r.get(1), family_id: r.get(2) })).collect())
}

fn stored_checks(tx: &mut Tx<'_>, rm_ids: &[i64]) -> StoreResult<HashMap<i64, Checks>> {
    let rows = tx.query(
        "SELECT rm_id, check_name, status, value FROM model_health WHERE rm_id = ANY($1::bigint[])",
        &[&rm_ids],
    )?;
    let mut out: HashMap<i64, Checks> = HashMap::new();
    for r in rows {
        let (c, s): (&str, &str) = (r.get(1), r.get(2));
        if let (Some(c), Some(s)) = (Check::parse(c), Status::parse(s)) {
            out.entry(r.get(0)).or_default().insert(c, (s, r.get(3)));
        }
    }
    Ok(out)
}

/// The roll-up scopes the models of `$1` count in beyond the fleet, as
/// migration 16's `health_scopes` finds them, for many models at once.
const MODEL_SCOPES: &str = "\
WITH ids (rm_id) AS (SELECT unnest($1::bigint[]))
SELECT m.rm_id, 'family', f.name
FROM ids JOIN fleet_members m ON m.rm_id = ids.rm_id JOIN families f ON f.family_id = m.family_id
UNION ALL
SELECT p.rm_id, 'partition', f.name || '/' || p.key || '=' || p.value
FROM ids JOIN member_partitions p ON p.rm_id = ids.rm_id JOIN fleet_members m ON m.rm_id = p.rm_id
JOIN families f ON f.family_id = m.family_id
WHERE p.key <> (f.levels::jsonb ->> -1)
UNION ALL
SELECT t.rm_id, 'tag', t.key || '=' || t.value
FROM ids JOIN registered_model_tags t ON t.rm_id = ids.rm_id
WHERE t.key NOT LIKE 'flotilla.%'";

fn move_counters(tx: &mut Tx<'_>, moves: &BTreeMap<(i64, Check, Status), i64>) -> StoreResult<()> {
    let mut ids: Vec<i64> = moves.keys().map(|(id, _, _)| *id).collect();
    ids.dedup();
    let mut scopes: HashMap<i64, Vec<Scope>> = HashMap::with_capacity(ids.len());
    for r in tx.query(MODEL_SCOPES, &[&ids])? {
        scopes.entry(r.get(0)).or_default().push((health_plan::scope_kind(r.get(1)), r.get(2)));
    }
    let sums = health_plan::counter_sums(moves, &scopes);
    if sums.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = sums.iter().map(|s| s.0).collect();
    let keys: Vec<&str> = sums.iter().map(|s| s.1).collect();
    let checks: Vec<&str> = sums.iter().map(|s| s.2.as_str()).collect();
    let statuses: Vec<&str> = sums.iter().map(|s| s.3.as_str()).collect();
    let deltas: Vec<i64> = sums.iter().map(|s| s.4).collect();
    tx.execute(
        "INSERT INTO health_counts AS c (kind, scope, check_name, status, n) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
         ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = c.n + excluded.n",
        &[&kinds, &keys, &checks, &statuses, &deltas],
    )?;
    Ok(())
}

/// Writes the batch's checks, moves the roll-ups and re-scores the models.
pub(super) fn write_batch(
    tx: &mut Tx<'_>,
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
        let rm_ids: Vec<i64> = changes.rows.iter().map(|r| r.0).collect();
        let checks: Vec<&str> = changes.rows.iter().map(|r| r.1.as_str()).collect();
        let statuses: Vec<&str> = changes.rows.iter().map(|r| r.2.as_str()).collect();
        let values: Vec<Option<f64>> = changes.rows.iter().map(|r| r.3).collect();
        tx.execute(
            "INSERT INTO model_health (rm_id, check_name, status, value, updated) \
             SELECT r, c, s, v, $5 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) AS u (r, c, s, v) \
             ON CONFLICT (rm_id, check_name) DO UPDATE SET status = excluded.status, value = excluded.value, \
             updated = excluded.updated",
            &[&rm_ids, &checks, &statuses, &values, &now],
        )?;
    }
    if !changes.moves.is_empty() {
        move_counters(tx, &changes.moves)?;
    }
    let scored = health_plan::scores(&ids, known, &state);
    let rm_ids: Vec<i64> = scored.iter().map(|s| s.0).collect();
    let families: Vec<Option<i64>> = scored.iter().map(|s| s.1).collect();
    let scores: Vec<i64> = scored.iter().map(|s| s.2).collect();
    tx.execute(
        "INSERT INTO model_health_summary AS h (rm_id, family_id, score, updated) \
         SELECT r, f, s, $4 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u (r, f, s) \
         ON CONFLICT (rm_id) DO UPDATE SET family_id = excluded.family_id, score = excluded.score, \
         updated = excluded.updated \
         WHERE h.family_id IS DISTINCT FROM excluded.family_id OR h.score IS DISTINCT FROM excluded.score",
        &[&rm_ids, &families, &scores, &now],
    )?;
    Ok(())
}
