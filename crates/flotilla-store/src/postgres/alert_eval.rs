//! Alert rules judged as health is recorded, in the same transaction (as
//! `sqlite/alert_eval.rs`; the streak rule is `crate::alerts::step`): per
//! rule and model a streak of matching windows, each firing and resolving
//! one `alert_events` row deduplicated by (rule, model, window, kind).

use super::Tx;
use crate::alerts::{RuleScope, dedup_key, scope_of, step};
use crate::error::StoreResult;
use crate::health::{Check, HealthUpdate, Status};

struct LoadedRule {
    id: i64,
    scope: RuleScope,
    check: Check,
    status: Status,
    windows: i64,
}

/// The enabled rules, read once per recording.
pub(super) struct Rules(Vec<LoadedRule>);

/// Where a model sits, read only when a rule's scope needs it.
struct Place {
    family: Option<String>,
    partitions: Vec<(String, String)>,
}

impl Rules {
    pub(super) fn load(tx: &mut Tx<'_>) -> StoreResult<Self> {
        let rows = tx.query(
            "SELECT rule_id, scope_kind, scope, check_name, status, windows FROM alert_rules WHERE enabled",
            &[],
        )?;
        let rules = rows
            .iter()
            .filter_map(|r| {
                Some(LoadedRule {
                    id: r.get(0),
                    scope: scope_of(r.get(1), r.get(2))?,
                    check: Check::parse(r.get(3))?,
                    status: Status::parse(r.get(4))?,
                    windows: r.get(5),
                })
            })
            .collect();
        Ok(Rules(rules))
    }

    /// Judges every rule on one model's new checks; answers the events made.
    pub(super) fn evaluate(
        &self,
        tx: &mut Tx<'_>,
        rm_id: i64,
        update: &HealthUpdate,
        window_end: i64,
    ) -> StoreResult<usize> {
        let mut place: Option<Place> = None;
        let mut events = 0;
        for rule in &self.0 {
            let Some(result) = update.checks.iter().find(|c| c.check == rule.check) else { continue };
            let applies = match &rule.scope {
                RuleScope::Fleet => true,
                RuleScope::Model(m) => *m == update.model,
                RuleScope::Family(f) => place_of(tx, rm_id, &mut place)?.family.as_deref() == Some(f.as_str()),
                RuleScope::Partition { family, key, value } => {
                    let p = place_of(tx, rm_id, &mut place)?;
                    p.family.as_deref() == Some(family.as_str())
                        && p.partitions.iter().any(|(k, v)| k == key && v == value)
                }
            };
            if !applies {
                continue;
            }
            let matches = result.status != Status::Unknown && result.status >= rule.status;
            let (streak, firing): (i64, bool) = tx
                .query_opt(
                    "SELECT streak, firing FROM alert_state WHERE rule_id = $1 AND rm_id = $2",
                    &[&rule.id, &rm_id],
                )?
                .map_or((0, false), |r| (r.get(0), r.get(1)));
            let (streak, now_firing, event) = step(matches, streak, firing, rule.windows);
            tx.execute(
                "INSERT INTO alert_state (rule_id, rm_id, streak, firing) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (rule_id, rm_id) DO UPDATE SET streak = excluded.streak, firing = excluded.firing",
                &[&rule.id, &rm_id, &streak, &now_firing],
            )?;
            if let Some(kind) = event {
                let dedup = dedup_key(rule.id, &update.model, window_end, kind);
                let value = crate::health_plan::storable(result.value);
                events += tx.execute(
                    "INSERT INTO alert_events \
                     (rule_id, model_name, kind, status, value, window_end, dedup_key, created, next_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (dedup_key) DO NOTHING",
                    &[
                        &rule.id,
                        &update.model,
                        &kind.as_str(),
                        &result.status.as_str(),
                        &value,
                        &window_end,
                        &dedup,
                        &crate::sqlite::now_ms(),
                    ],
                )? as usize;
            }
        }
        Ok(events)
    }
}

fn place_of<'p>(tx: &mut Tx<'_>, rm_id: i64, place: &'p mut Option<Place>) -> StoreResult<&'p Place> {
    let loaded = match place.take() {
        Some(p) => p,
        None => {
            let family = tx
                .query_opt(
                    "SELECT f.name FROM fleet_members m JOIN families f ON f.family_id = m.family_id WHERE m.rm_id = $1",
                    &[&rm_id],
                )?
                .map(|r| r.get(0));
            let rows = tx.query("SELECT key, value FROM member_partitions WHERE rm_id = $1", &[&rm_id])?;
            Place { family, partitions: rows.iter().map(|r| (r.get(0), r.get(1))).collect() }
        }
    };
    Ok(place.insert(loaded))
}
