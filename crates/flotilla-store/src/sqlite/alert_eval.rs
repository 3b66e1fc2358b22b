//! Alert rules judged as health is recorded, in the same transaction: per
//! rule and model a streak of matching windows; a rule fires when the
//! streak reaches its window count and resolves at the first window that no
//! longer matches. Each firing and resolving is one `alert_events` row,
//! deduplicated by (rule, model, window, kind), due for delivery at once.

use rusqlite::{Connection, OptionalExtension};

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
    pub(super) fn load(tx: &Connection) -> StoreResult<Self> {
        let mut stmt = tx.prepare_cached(
            "SELECT rule_id, scope_kind, scope, check_name, status, windows FROM alert_rules WHERE enabled = 1",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut rules = Vec::new();
        for row in rows {
            let (id, kind, scope, check, status, windows) = row?;
            let (Some(check), Some(status), Some(scope)) =
                (Check::parse(&check), Status::parse(&status), scope_of(&kind, &scope))
            else {
                continue;
            };
            rules.push(LoadedRule { id, scope, check, status, windows });
        }
        Ok(Rules(rules))
    }

    /// Judges every rule on one model's new checks; answers the events made.
    pub(super) fn evaluate(
        &self,
        tx: &Connection,
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
                .prepare_cached("SELECT streak, firing FROM alert_state WHERE rule_id = ?1 AND rm_id = ?2")?
                .query_row([rule.id, rm_id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))
                .optional()?
                .unwrap_or((0, false));
            let (streak, now_firing, event) = step(matches, streak, firing, rule.windows);
            tx.prepare_cached(
                "INSERT INTO alert_state (rule_id, rm_id, streak, firing) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (rule_id, rm_id) DO UPDATE SET streak = excluded.streak, firing = excluded.firing",
            )?
            .execute(rusqlite::params![rule.id, rm_id, streak, now_firing as i64])?;
            if let Some(kind) = event {
                let dedup = dedup_key(rule.id, &update.model, window_end, kind);
                events += tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO alert_events \
                         (rule_id, model_name, kind, status, value, window_end, dedup_key, created, next_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    )?
                    .execute(rusqlite::params![
                        rule.id,
                        update.model,
                        kind.as_str(),
                        result.status.as_str(),
                        result.value,
                        window_end,
                        dedup,
                        super::now_ms()
                    ])?;
            }
        }
        Ok(events)
    }
}

fn place_of<'p>(tx: &Connection, rm_id: i64, place: &'p mut Option<Place>) -> StoreResult<&'p Place> {
    let loaded = match place.take() {
        Some(p) => p,
        None => {
            let family: Option<String> = tx
            .prepare_cached(
                "SELECT f.name FROM fleet_members m JOIN families f ON f.family_id = m.family_id WHERE m.rm_id = ?1",
            )?
            .query_row([rm_id], |r| r.get(0))
            .optional()?;
            let mut stmt = tx.prepare_cached("SELECT key, value FROM member_partitions WHERE rm_id = ?1")?;
            let partitions =
                stmt.query_map([rm_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Place { family, partitions }
        }
    };
    Ok(place.insert(loaded))
}
