//! Alert rules, events and delivery attempts on SQLite (migration 16).

use flotilla_core::Error;
use flotilla_core::model::Page;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{SqliteStore, now_ms};
use crate::alerts::{
    AlertStore, Attempt, Delivery, DeliveryQuery, DueEvent, MAX_RULES, NewRule, Outcome, Rule, RuleScope,
    scope_columns, scope_of,
};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::health::{Check, Status};

const RULE_COLUMNS: &str =
    "rule_id, name, scope_kind, scope, check_name, status, windows, webhook_url, secret, enabled, created, created_by";

fn rule_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Rule>> {
    let kind: String = r.get(2)?;
    let scope: String = r.get(3)?;
    let check: String = r.get(4)?;
    let status: String = r.get(5)?;
    let (Some(scope), Some(check), Some(status)) =
        (scope_of(&kind, &scope), Check::parse(&check), Status::parse(&status))
    else {
        return Ok(None);
    };
    Ok(Some(Rule {
        id: r.get(0)?,
        rule: NewRule {
            name: r.get(1)?,
            scope,
            check,
            status,
            windows: r.get(6)?,
            webhook_url: r.get(7)?,
            secret: r.get(8)?,
            enabled: r.get::<_, i64>(9)? != 0,
        },
        created: r.get(10)?,
        created_by: r.get(11)?,
    }))
}

fn no_rule(id: i64) -> Error {
    Error::not_found(format!("Alert rule {id} not found"))
}

fn get(tx: &Connection, id: i64) -> StoreResult<Rule> {
    tx.prepare_cached(&format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE rule_id = ?1"))?
        .query_row([id], rule_row)
        .optional()?
        .flatten()
        .ok_or_else(|| no_rule(id).into())
}

/// The scope must name things that exist.
fn check_scope(tx: &Connection, scope: &RuleScope) -> StoreResult<()> {
    match scope {
        RuleScope::Fleet => Ok(()),
        RuleScope::Family(f) | RuleScope::Partition { family: f, .. } => super::families::family(tx, f).map(|_| ()),
        RuleScope::Model(m) => super::registry::rm_id(tx, m).map(|_| ()),
    }
}

impl AlertStore for SqliteStore {
    fn create_rule(&self, rule: &NewRule, created_by: &str) -> StoreResult<Rule> {
        self.write(|tx| {
            check_scope(tx, &rule.scope)?;
            let n: i64 = tx.query_row("SELECT count(*) FROM alert_rules", [], |r| r.get(0))?;
            if n >= MAX_RULES {
                return Err(Error::invalid(format!("a store keeps at most {MAX_RULES} alert rules")).into());
            }
            let (kind, scope) = scope_columns(&rule.scope);
            tx.prepare_cached(
                "INSERT INTO alert_rules (name, scope_kind, scope, check_name, status, windows, webhook_url, secret, \
                 enabled, created, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(rusqlite::params![
                rule.name,
                kind,
                scope,
                rule.check.as_str(),
                rule.status.as_str(),
                rule.windows,
                rule.webhook_url,
                rule.secret,
                rule.enabled as i64,
                now_ms(),
                created_by
            ])?;
            let id = tx.last_insert_rowid();
            note(Change::new("alert_rule.create", "alert_rule", id.to_string()));
            get(tx, id)
        })
    }

    fn get_rule(&self, id: i64) -> StoreResult<Rule> {
        self.read(|tx| get(tx, id))
    }

    fn list_rules(&self) -> StoreResult<Vec<Rule>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY rule_id"))?;
            let rows = stmt.query_map([], rule_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows.into_iter().flatten().collect())
        })
    }

    fn update_rule(&self, id: i64, rule: &NewRule) -> StoreResult<Rule> {
        self.write(|tx| {
            get(tx, id)?;
            check_scope(tx, &rule.scope)?;
            let (kind, scope) = scope_columns(&rule.scope);
            tx.prepare_cached(
                "UPDATE alert_rules SET name = ?2, scope_kind = ?3, scope = ?4, check_name = ?5, status = ?6, \
                 windows = ?7, webhook_url = ?8, secret = ?9, enabled = ?10 WHERE rule_id = ?1",
            )?
            .execute(rusqlite::params![
                id,
                rule.name,
                kind,
                scope,
                rule.check.as_str(),
                rule.status.as_str(),
                rule.windows,
                rule.webhook_url,
                rule.secret,
                rule.enabled as i64
            ])?;
            // A changed rule starts its streaks again.
            tx.prepare_cached("DELETE FROM alert_state WHERE rule_id = ?1")?.execute([id])?;
            note(Change::new("alert_rule.update", "alert_rule", id.to_string()));
            get(tx, id)
        })
    }

    fn delete_rule(&self, id: i64) -> StoreResult<()> {
        self.write(|tx| {
            if tx.prepare_cached("DELETE FROM alert_rules WHERE rule_id = ?1")?.execute([id])? == 0 {
                return Err(no_rule(id).into());
            }
            note(Change::new("alert_rule.delete", "alert_rule", id.to_string()));
            Ok(())
        })
    }

    fn due_events(&self, now: i64, limit: usize) -> StoreResult<Vec<DueEvent>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT e.event_id, e.rule_id, r.name, e.model_name, r.check_name, e.kind, e.status, e.value, \
                 e.window_end, e.dedup_key, e.attempts, r.webhook_url, r.secret \
                 FROM alert_events e JOIN alert_rules r ON r.rule_id = e.rule_id \
                 WHERE e.state = 'pending' AND e.next_at <= ?1 ORDER BY e.next_at, e.event_id LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![now, limit as i64], |r| {
                Ok(DueEvent {
                    event_id: r.get(0)?,
                    rule_id: r.get(1)?,
                    rule_name: r.get(2)?,
                    model: r.get(3)?,
                    check: r.get(4)?,
                    kind: r.get(5)?,
                    status: r.get(6)?,
                    value: r.get(7)?,
                    window_end: r.get(8)?,
                    dedup_key: r.get(9)?,
                    attempts: r.get(10)?,
                    url: r.get(11)?,
                    secret: r.get(12)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn record_attempt(&self, a: &Attempt) -> StoreResult<()> {
        self.write(|tx| {
            let row: Option<(i64, i64)> = tx
                .prepare_cached("SELECT rule_id, attempts FROM alert_events WHERE event_id = ?1")?
                .query_row([a.event_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            // The rule (and its events) may have been deleted meanwhile.
            let Some((rule_id, attempts)) = row else { return Ok(()) };
            let attempt = attempts + 1;
            tx.prepare_cached(
                "INSERT INTO alert_deliveries (event_id, rule_id, attempt, time, status_code, error, outcome, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(rusqlite::params![
                a.event_id,
                rule_id,
                attempt,
                a.time,
                a.status_code,
                a.error,
                a.outcome.as_str(),
                a.duration_ms
            ])?;
            let (state, next_at) = match a.outcome {
                Outcome::Delivered => ("delivered", a.time),
                Outcome::Retrying { next_at } => ("pending", next_at),
                Outcome::Failed => ("failed", a.time),
            };
            tx.prepare_cached("UPDATE alert_events SET state = ?2, attempts = ?3, next_at = ?4 WHERE event_id = ?1")?
                .execute(rusqlite::params![a.event_id, state, attempt, next_at])?;
            Ok(())
        })
    }

    fn next_due(&self) -> StoreResult<Option<i64>> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached("SELECT min(next_at) FROM alert_events WHERE state = 'pending'")?
                .query_row([], |r| r.get(0))?)
        })
    }

    fn deliveries(&self, q: &DeliveryQuery) -> StoreResult<Page<Delivery>> {
        let limit = q.page.max_results.unwrap_or(100).clamp(1, 1000);
        let before: Option<i64> = match q.page.page_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(t.parse().map_err(|_| {
                Error::invalid(format!("Invalid page token '{}'", flotilla_core::validation::truncate(t, 64)))
            })?),
            None => None,
        };
        self.read(|tx| {
            let mut conds = vec!["1".to_string()];
            let mut args: Vec<Value> = Vec::new();
            if let Some(id) = q.rule_id {
                conds.push("d.rule_id = ?".into());
                args.push(Value::Integer(id));
            }
            if let Some(ids) = &q.rules {
                conds.push("d.rule_id IN (SELECT value FROM json_each(?))".into());
                args.push(Value::Text(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())));
            }
            if let Some(b) = before {
                conds.push("d.delivery_id < ?".into());
                args.push(Value::Integer(b));
            }
            args.push(Value::Integer(limit + 1));
            let sql = format!(
                "SELECT d.delivery_id, d.event_id, d.rule_id, e.model_name, e.kind, e.dedup_key, d.attempt, d.time, \
                 d.status_code, d.error, d.outcome, d.duration_ms FROM alert_deliveries d \
                 JOIN alert_events e ON e.event_id = d.event_id WHERE {} ORDER BY d.delivery_id DESC LIMIT ?",
                conds.join(" AND ")
            );
            let mut stmt = tx.prepare(&sql)?;
            let mut items = stmt
                .query_map(params_from_iter(args), |r| {
                    Ok(Delivery {
                        id: r.get(0)?,
                        event_id: r.get(1)?,
                        rule_id: r.get(2)?,
                        model: r.get(3)?,
                        kind: r.get(4)?,
                        dedup_key: r.get(5)?,
                        attempt: r.get(6)?,
                        time: r.get(7)?,
                        status_code: r.get(8)?,
                        error: r.get(9)?,
                        outcome: r.get(10)?,
                        duration_ms: r.get(11)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = items.len() as i64 > limit;
            items.truncate(limit as usize);
            let next_page_token = more.then(|| items.last().map(|d| d.id.to_string())).flatten();
            Ok(Page { items, next_page_token })
        })
    }
}
