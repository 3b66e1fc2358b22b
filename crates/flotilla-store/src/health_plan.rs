//! What recording a batch of models' health changes, decided in memory and
//! shared by both backends (`sqlite/health_write.rs`, `postgres/health_write.rs`):
//! the checks whose status or value changed (the rows to write), the roll-up
//! counters' moves summed per fleet, family, partition and tag scope, and
//! each touched model's new severity. The backends only read the state
//! before and write these answers, a fixed number of statements a batch.

use std::collections::{BTreeMap, HashMap};

use crate::health::{Check, CheckResult, HealthUpdate, Status, score};

/// A model of the batch as the store knows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub rm_id: i64,
    pub family_id: Option<i64>,
}

/// A check's stored status and value.
pub(crate) type Stored = (Status, Option<f64>);
/// One model's checks, by check.
pub(crate) type Checks = BTreeMap<Check, Stored>;

/// A NaN reads back as NULL and JSON has no infinities: a value is stored
/// (and compared) as what will read back.
pub(crate) fn storable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// A check row to write: model, check, status, value.
pub(crate) type CheckRow = (i64, Check, Status, Option<f64>);

/// What a batch changes: the rows to write and the counter moves.
#[derive(Default)]
pub(crate) struct Changes {
    /// Each check whose status or value changed.
    pub rows: Vec<CheckRow>,
    /// Per (model, check, status): +1 for a status entered, −1 for one left.
    pub moves: BTreeMap<(i64, Check, Status), i64>,
}

/// The batch's changes against `state` (each touched model's stored
/// checks), which is left holding the checks after the batch.
pub(crate) fn changes(
    updates: &[HealthUpdate],
    known: &HashMap<String, Resolved>,
    state: &mut HashMap<i64, Checks>,
) -> Changes {
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
            out.rows.push((id, check, status, value));
        }
    }
    out.moves.retain(|_, n| *n != 0);
    out
}

/// A roll-up scope beyond the fleet: kind (`family`, `partition`, `tag`) and key.
pub(crate) type Scope = (&'static str, String);

/// The roll-up scope kind a stored kind names.
pub(crate) fn scope_kind(kind: &str) -> &'static str {
    match kind {
        "family" => "family",
        "partition" => "partition",
        _ => "tag",
    }
}

/// A counter move: kind, scope, check, status, delta.
pub(crate) type CounterMove<'a> = (&'a str, &'a str, Check, Status, i64);

/// The counter moves of `moves`, summed per counter: each model's change
/// counts in the fleet and in each of its `scopes`. A sum of zero moves
/// nothing (some model left that status there, so its row exists) and is
/// left out. (Summing here rather than joining every change to its model's
/// scopes in SQL: at 10⁶ models the first daily pass moves 900,000 statuses.)
pub(crate) fn counter_sums<'a>(
    moves: &BTreeMap<(i64, Check, Status), i64>,
    scopes: &'a HashMap<i64, Vec<Scope>>,
) -> Vec<CounterMove<'a>> {
    let mut sums: BTreeMap<(&str, &str, Check, Status), i64> = BTreeMap::new();
    for (&(id, check, status), &n) in moves {
        *sums.entry(("fleet", "", check, status)).or_insert(0) += n;
        for (kind, scope) in scopes.get(&id).into_iter().flatten() {
            *sums.entry((kind, scope.as_str(), check, status)).or_insert(0) += n;
        }
    }
    sums.into_iter().filter(|(_, n)| *n != 0).map(|((k, s, c, st), n)| (k, s, c, st, n)).collect()
}

/// Each of `ids`' family and severity after the batch.
pub(crate) fn scores(
    ids: &[i64],
    known: &HashMap<String, Resolved>,
    state: &HashMap<i64, Checks>,
) -> Vec<(i64, Option<i64>, i64)> {
    let family_of: HashMap<i64, Option<i64>> = known.values().map(|r| (r.rm_id, r.family_id)).collect();
    ids.iter()
        .map(|id| {
            let checks: Vec<CheckResult> = state
                .get(id)
                .into_iter()
                .flatten()
                .map(|(&check, &(status, value))| CheckResult { check, status, value })
                .collect();
            (*id, family_of.get(id).copied().flatten(), score(&checks))
        })
        .collect()
}

/// The distinct models of the batch the store knows, ascending.
pub(crate) fn touched(updates: &[HealthUpdate], known: &HashMap<String, Resolved>) -> Vec<i64> {
    let mut ids: Vec<i64> = updates.iter().filter_map(|u| known.get(&u.model)).map(|r| r.rm_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
