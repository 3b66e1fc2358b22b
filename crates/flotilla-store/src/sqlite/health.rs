//! Fleet health on SQLite (migrations 16 and 21): `model_health` rows per
//! model and check, written in batches ([`health_write`]) that keep
//! `health_counts` per fleet, family, partition and tag (triggers keep them
//! when a model or a link goes); `model_health_summary` (a severity per
//! model) indexed for the worst models; `health_history` snapshots; drift configs and baselines.

use std::collections::HashMap;

use flotilla_core::Error;
use flotilla_core::model::Page;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{SqliteStore, alert_eval, families, health_write, now_ms, registry, visible};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::health::{
    Baseline, Check, CheckResult, HealthCount, HealthCounts, HealthScope, HealthStore, HealthUpdate, HistoryPoint,
    MAX_WORST, Status, WorstModel, WorstQuery,
};
use crate::query::Visible;

fn counts_of(tx: &Connection, kind: &str, scope: &str) -> StoreResult<HashMap<(Check, Status), i64>> {
    let mut stmt =
        tx.prepare_cached("SELECT check_name, status, n FROM health_counts WHERE kind = ?1 AND scope = ?2 AND n > 0")?;
    let rows =
        stmt.query_map([kind, scope], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (c, s, n) = row?;
        if let (Some(c), Some(s)) = (Check::parse(&c), Status::parse(&s)) {
            *out.entry((c, s)).or_insert(0) += n;
        }
    }
    Ok(out)
}

fn family_names(tx: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = tx.prepare_cached("SELECT name FROM families")?;
    let names = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

fn sorted(map: HashMap<(Check, Status), i64>, partial: bool) -> HealthCounts {
    let mut counts: Vec<HealthCount> = map
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((check, status), models)| HealthCount { check, status, models })
        .collect();
    counts.sort_by_key(|c| (c.check, c.status));
    HealthCounts { counts, partial }
}

fn add(into: &mut HashMap<(Check, Status), i64>, from: HashMap<(Check, Status), i64>, sign: i64) {
    for (k, n) in from {
        *into.entry(k).or_insert(0) += sign * n;
    }
}

fn checks_of(row_status: &str, row_check: &str, value: Option<f64>) -> Option<CheckResult> {
    Some(CheckResult { check: Check::parse(row_check)?, status: Status::parse(row_status)?, value })
}

fn load_checks(tx: &Connection, rm_ids: &[i64]) -> StoreResult<HashMap<i64, Vec<CheckResult>>> {
    let ids = serde_json::to_string(rm_ids).unwrap_or_else(|_| "[]".into());
    let mut stmt = tx.prepare_cached(
        "SELECT rm_id, check_name, status, value FROM model_health \
         WHERE rm_id IN (SELECT value FROM json_each(?1)) ORDER BY rm_id, check_name",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<f64>>(3)?))
    })?;
    let mut out: HashMap<i64, Vec<CheckResult>> = HashMap::new();
    for row in rows {
        let (id, c, s, v) = row?;
        if let Some(c) = checks_of(&s, &c, v) {
            out.entry(id).or_default().push(c);
        }
    }
    Ok(out)
}

fn parse_token(token: Option<&str>) -> Result<Option<(i64, i64)>, Error> {
    let Some(t) = token.filter(|t| !t.is_empty()) else { return Ok(None) };
    let bad = || Error::invalid(format!("Invalid page token '{}'", flotilla_core::validation::truncate(t, 64)));
    let (s, r) = t.split_once('.').ok_or_else(bad)?;
    Ok(Some((s.parse().map_err(|_| bad())?, r.parse().map_err(|_| bad())?)))
}

impl HealthStore for SqliteStore {
    fn record_health(&self, updates: &[HealthUpdate], window_end: i64) -> StoreResult<usize> {
        self.write(|tx| {
            let now = now_ms();
            let rules = alert_eval::Rules::load(tx)?;
            let known = health_write::resolve(tx, updates)?;
            health_write::write_batch(tx, updates, &known, now)?;
            let mut events = 0;
            for u in updates {
                if let Some(r) = known.get(&u.model) {
                    events += rules.evaluate(tx, r.rm_id, u, window_end)?;
                }
            }
            Ok(events)
        })
    }

    fn health_counts(&self, scope: &HealthScope, visible: &Visible) -> StoreResult<HealthCounts> {
        self.read(|tx| {
            if let HealthScope::Family(f) | HealthScope::Partition { family: f, .. } = scope {
                families::family(tx, f)?;
            }
            let (kind, key) = scope.key();
            if visible.is_everything() {
                return Ok(sorted(counts_of(tx, kind, &key)?, false));
            }
            // Whole families are read from their own counters; models
            // readable one by one are left out (the answer says so).
            let partial = !visible.whole_families();
            match scope {
                HealthScope::Fleet => {
                    let mut out = HashMap::new();
                    if visible.all {
                        add(&mut out, counts_of(tx, "fleet", "")?, 1);
                        for f in family_names(tx)?.iter().filter(|f| !visible.family_wholly(f)) {
                            add(&mut out, counts_of(tx, "family", f)?, -1);
                        }
                    } else {
                        for f in family_names(tx)?.iter().filter(|f| visible.family_wholly(f)) {
                            add(&mut out, counts_of(tx, "family", f)?, 1);
                        }
                    }
                    Ok(sorted(out, partial))
                }
                HealthScope::Family(f) | HealthScope::Partition { family: f, .. } => {
                    if visible.family_wholly(f) {
                        Ok(sorted(counts_of(tx, kind, &key)?, partial))
                    } else {
                        Ok(sorted(HashMap::new(), true))
                    }
                }
                HealthScope::Tag { .. } => Ok(sorted(HashMap::new(), true)),
            }
        })
    }

    fn worst_models(&self, query: &WorstQuery) -> StoreResult<Page<WorstModel>> {
        let limit = query.page.max_results.unwrap_or(100).clamp(1, MAX_WORST);
        let after = parse_token(query.page.page_token.as_deref())?;
        self.read(|tx| {
            let mut conds = vec!["s.score > 0".to_string()];
            let mut args: Vec<Value> = Vec::new();
            match &query.scope {
                None | Some(HealthScope::Fleet) => {}
                Some(HealthScope::Family(f)) => {
                    conds.push("s.family_id = ?".into());
                    args.push(Value::Integer(families::family(tx, f)?.id));
                }
                Some(HealthScope::Partition { family, key, value }) => {
                    conds.push("s.family_id = ?".into());
                    args.push(Value::Integer(families::family(tx, family)?.id));
                    conds.push(
                        "EXISTS (SELECT 1 FROM member_partitions p WHERE p.rm_id = s.rm_id AND p.key = ? AND p.value = ?)"
                            .into(),
                    );
                    args.push(Value::Text(key.clone()));
                    args.push(Value::Text(value.clone()));
                }
                Some(HealthScope::Tag { key, value }) => {
                    conds.push(
                        "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.rm_id = s.rm_id AND t.key = ? AND t.value = ?)"
                            .into(),
                    );
                    args.push(Value::Text(key.clone()));
                    args.push(Value::Text(value.clone()));
                }
            }
            if let Some(pred) = visible::models(&query.visible, "r.name", "s.rm_id", &mut args) {
                conds.push(pred);
            }
            if let Some((score, rm_id)) = after {
                conds.push("(s.score < ? OR (s.score = ? AND s.rm_id > ?))".into());
                args.extend([Value::Integer(score), Value::Integer(score), Value::Integer(rm_id)]);
            }
            args.push(Value::Integer(limit + 1));
            let sql = format!(
                "SELECT s.rm_id, s.score, r.name, f.name FROM model_health_summary s \
                 JOIN registered_models r ON r.rm_id = s.rm_id \
                 LEFT JOIN fleet_members m ON m.rm_id = s.rm_id LEFT JOIN families f ON f.family_id = m.family_id \
                 WHERE {} ORDER BY s.score DESC, s.rm_id LIMIT ?",
                conds.join(" AND ")
            );
            let mut stmt = tx.prepare(&sql)?;
            let mut rows = stmt
                .query_map(params_from_iter(args), |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let next_page_token = more.then(|| rows.last().map(|(id, s, _, _)| format!("{s}.{id}"))).flatten();
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let mut checks = load_checks(tx, &ids)?;
            let items = rows
                .into_iter()
                .map(|(id, score, name, family)| WorstModel {
                    name,
                    family,
                    score,
                    checks: checks.remove(&id).unwrap_or_default(),
                })
                .collect();
            Ok(Page { items, next_page_token })
        })
    }

    fn model_health(&self, model: &str) -> StoreResult<Vec<CheckResult>> {
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            Ok(load_checks(tx, &[rm_id])?.remove(&rm_id).unwrap_or_default())
        })
    }

    fn snapshot_health(&self, hour: i64) -> StoreResult<usize> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM health_history WHERE hour = ?1")?.execute([hour])?;
            let n = tx
                .prepare_cached(
                    "INSERT INTO health_history (kind, scope, hour, check_name, status, n) \
                     SELECT kind, scope, ?1, check_name, status, n FROM health_counts \
                     WHERE kind IN ('fleet', 'family') AND n > 0",
                )?
                .execute([hour])?;
            Ok(n)
        })
    }

    fn health_history(&self, scope: &HealthScope, from: i64, to: i64, limit: usize) -> StoreResult<Vec<HistoryPoint>> {
        self.read(|tx| {
            if let HealthScope::Family(f) = scope {
                families::family(tx, f)?;
            }
            let (kind, key) = scope.key();
            let mut stmt = tx.prepare_cached(
                "SELECT hour, check_name, status, n FROM health_history \
                 WHERE kind = ?1 AND scope = ?2 AND hour >= ?3 AND hour < ?4 ORDER BY hour, check_name, status LIMIT ?5",
            )?;
            let rows = stmt.query_map(rusqlite::params![kind, key, from, to, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (hour, c, s, models) = row?;
                if let (Some(check), Some(status)) = (Check::parse(&c), Status::parse(&s)) {
                    out.push(HistoryPoint { hour, check, status, models });
                }
            }
            Ok(out)
        })
    }

    fn drift_config(&self, family: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id = families::family(tx, family)?.id;
            Ok(tx
                .prepare_cached("SELECT config FROM family_drift_config WHERE family_id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_drift_config(&self, family: &str, config: &str) -> StoreResult<()> {
        self.write(|tx| {
            let id = families::family(tx, family)?.id;
            tx.prepare_cached(
                "INSERT INTO family_drift_config (family_id, config, updated) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (family_id) DO UPDATE SET config = excluded.config, updated = excluded.updated",
            )?
            .execute(rusqlite::params![id, config, now_ms()])?;
            let after = serde_json::from_str(config).ok();
            note(Change::new("family.set_drift_config", "family", family).diff(None, after));
            Ok(())
        })
    }

    fn baseline(&self, model: &str) -> StoreResult<Option<Baseline>> {
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            super::monitor_facts::baseline_of(tx, rm_id)
        })
    }

    fn set_baseline(&self, model: &str, baseline: Option<&Baseline>) -> StoreResult<()> {
        self.write(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            match baseline {
                None => {
                    tx.prepare_cached("DELETE FROM model_baselines WHERE rm_id = ?1")?.execute([rm_id])?;
                }
                Some(Baseline::Dataset { name, digest }) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO model_baselines (rm_id, kind, dataset_name, digest, updated) \
                         VALUES (?1, 'dataset', ?2, ?3, ?4)",
                    )?
                    .execute(rusqlite::params![rm_id, name, digest, now_ms()])?;
                }
                Some(Baseline::Traffic { version, from, to }) => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO model_baselines (rm_id, kind, version, from_ms, to_ms, updated) \
                         VALUES (?1, 'traffic', ?2, ?3, ?4, ?5)",
                    )?
                    .execute(rusqlite::params![rm_id, version.get(), from, to, now_ms()])?;
                }
            }
            note(Change::new("registered_model.set_baseline", "registered_model", model));
            Ok(())
        })
    }
}
