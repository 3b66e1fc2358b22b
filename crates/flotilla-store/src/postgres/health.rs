//! Fleet health on PostgreSQL (as `sqlite/health.rs`; migrations 16 and
//! 26): `model_health` rows per model and check, written in batches
//! (`health_write.rs`) that keep `health_counts` per fleet, family,
//! partition and tag (triggers keep them when a model or a link goes);
//! `model_health_summary` indexed for the worst models; `health_history`
//! snapshots; drift configs and baselines. Alert rules are judged in the
//! recording's transaction (`alert_eval.rs`).

use std::collections::HashMap;

use flotilla_core::model::Page;
use flotilla_core::{Error, VersionNumber};

use super::sql::{Value, numbered, params};
use super::{PgStore, Tx, alert_eval, families, health_write, registry, visible};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::health::*;
use crate::query::Visible;
use crate::sqlite::now_ms;

/// Counts per (check, status).
type Tally = HashMap<(Check, Status), i64>;

fn counts_of(tx: &mut Tx<'_>, kind: &str, scope: &str) -> StoreResult<Tally> {
    let rows = tx.query(
        "SELECT check_name, status, n FROM health_counts WHERE kind = $1 AND scope = $2 AND n > 0",
        &[&kind, &scope],
    )?;
    let mut out = HashMap::new();
    for r in rows {
        if let (Some(c), Some(s)) = (Check::parse(r.get(0)), Status::parse(r.get(1))) {
            *out.entry((c, s)).or_insert(0) += r.get::<_, i64>(2);
        }
    }
    Ok(out)
}

fn family_names(tx: &mut Tx<'_>) -> StoreResult<Vec<String>> {
    Ok(tx.query("SELECT name FROM families", &[])?.iter().map(|r| r.get(0)).collect())
}

fn sorted(map: Tally, partial: bool) -> HealthCounts {
    let mut counts: Vec<HealthCount> = map
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((check, status), models)| HealthCount { check, status, models })
        .collect();
    counts.sort_by_key(|c| (c.check, c.status));
    HealthCounts { counts, partial }
}

fn add(into: &mut Tally, from: Tally, sign: i64) {
    for (k, n) in from {
        *into.entry(k).or_insert(0) += sign * n;
    }
}

fn load_checks(tx: &mut Tx<'_>, rm_ids: &[i64]) -> StoreResult<HashMap<i64, Vec<CheckResult>>> {
    let rows = tx.query(
        "SELECT rm_id, check_name, status, value FROM model_health WHERE rm_id = ANY($1::bigint[]) \
         ORDER BY rm_id, check_name",
        &[&rm_ids],
    )?;
    let mut out: HashMap<i64, Vec<CheckResult>> = HashMap::new();
    for r in rows {
        if let (Some(check), Some(status)) = (Check::parse(r.get(1)), Status::parse(r.get(2))) {
            out.entry(r.get(0)).or_default().push(CheckResult { check, status, value: r.get(3) });
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

impl crate::health::HealthStore for PgStore {
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
                    args.push(Value::Int(families::family(tx, f)?.id));
                }
                Some(HealthScope::Partition { family, key, value }) => {
                    conds.push("s.family_id = ?".into());
                    args.push(Value::Int(families::family(tx, family)?.id));
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
                args.extend([Value::Int(score), Value::Int(score), Value::Int(rm_id)]);
            }
            args.push(Value::Int(limit + 1));
            let sql = numbered(&format!(
                "SELECT s.rm_id, s.score, r.name, f.name FROM model_health_summary s \
                 JOIN registered_models r ON r.rm_id = s.rm_id \
                 LEFT JOIN fleet_members m ON m.rm_id = s.rm_id LEFT JOIN families f ON f.family_id = m.family_id \
                 WHERE {} ORDER BY s.score DESC, s.rm_id LIMIT ?",
                conds.join(" AND ")
            ));
            let mut rows: Vec<(i64, i64, String, Option<String>)> =
                tx.query(&sql, &params(&args))?.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
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
            tx.execute("DELETE FROM health_history WHERE hour = $1", &[&hour])?;
            let n = tx.execute(
                "INSERT INTO health_history (kind, scope, hour, check_name, status, n) \
                 SELECT kind, scope, $1, check_name, status, n FROM health_counts \
                 WHERE kind IN ('fleet', 'family') AND n > 0",
                &[&hour],
            )?;
            Ok(n as usize)
        })
    }

    fn health_history(&self, scope: &HealthScope, from: i64, to: i64, limit: usize) -> StoreResult<Vec<HistoryPoint>> {
        self.read(|tx| {
            if let HealthScope::Family(f) = scope {
                families::family(tx, f)?;
            }
            let (kind, key) = scope.key();
            let rows = tx.query(
                "SELECT hour, check_name, status, n FROM health_history \
                 WHERE kind = $1 AND scope = $2 AND hour >= $3 AND hour < $4 ORDER BY hour, check_name, status LIMIT $5",
                &[&kind, &key, &from, &to, &(limit as i64)],
            )?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let (check, status) = (Check::parse(r.get(1))?, Status::parse(r.get(2))?);
                    Some(HistoryPoint { hour: r.get(0), check, status, models: r.get(3) })
                })
                .collect())
        })
    }

    fn drift_config(&self, family: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id = families::family(tx, family)?.id;
            Ok(tx.query_opt("SELECT config FROM family_drift_config WHERE family_id = $1", &[&id])?.map(|r| r.get(0)))
        })
    }

    fn set_drift_config(&self, family: &str, config: &str) -> StoreResult<()> {
        self.write(|tx| {
            let id = families::family(tx, family)?.id;
            tx.execute(
                "INSERT INTO family_drift_config (family_id, config, updated) VALUES ($1, $2, $3) \
                 ON CONFLICT (family_id) DO UPDATE SET config = excluded.config, updated = excluded.updated",
                &[&id, &config, &now_ms()],
            )?;
            let after = serde_json::from_str(config).ok();
            note(Change::new("family.set_drift_config", "family", family).diff(None, after));
            Ok(())
        })
    }

    fn baseline(&self, model: &str) -> StoreResult<Option<Baseline>> {
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            let row = tx.query_opt(
                "SELECT kind, dataset_name, digest, version, from_ms, to_ms FROM model_baselines WHERE rm_id = $1",
                &[&rm_id],
            )?;
            Ok(row.and_then(|r| {
                let (kind, name, digest): (String, Option<String>, Option<String>) = (r.get(0), r.get(1), r.get(2));
                match (kind.as_str(), name, digest) {
                    ("dataset", Some(name), Some(digest)) => Some(Baseline::Dataset { name, digest }),
                    _ => Some(Baseline::Traffic {
                        version: VersionNumber::new(r.get::<_, Option<i64>>(3).unwrap_or(1))?,
                        from: r.get::<_, Option<i64>>(4).unwrap_or(0),
                        to: r.get::<_, Option<i64>>(5).unwrap_or(0),
                    }),
                }
            }))
        })
    }

    fn set_baseline(&self, model: &str, baseline: Option<&Baseline>) -> StoreResult<()> {
        self.write(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            tx.execute("DELETE FROM model_baselines WHERE rm_id = $1", &[&rm_id])?;
            match baseline {
                None => {}
                Some(Baseline::Dataset { name, digest }) => {
                    tx.execute(
                        "INSERT INTO model_baselines (rm_id, kind, dataset_name, digest, updated) \
                         VALUES ($1, 'dataset', $2, $3, $4)",
                        &[&rm_id, name, digest, &now_ms()],
                    )?;
                }
                Some(Baseline::Traffic { version, from, to }) => {
                    tx.execute(
                        "INSERT INTO model_baselines (rm_id, kind, version, from_ms, to_ms, updated) \
                         VALUES ($1, 'traffic', $2, $3, $4, $5)",
                        &[&rm_id, &version.get(), from, to, &now_ms()],
                    )?;
                }
            }
            note(Change::new("registered_model.set_baseline", "registered_model", model));
            Ok(())
        })
    }
}
