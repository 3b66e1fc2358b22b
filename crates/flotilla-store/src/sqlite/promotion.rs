//! Rule-based promotion, rollback of a batch, and reading the audit log.
//!
//! A promotion is planned with one set-based query over the family's members
//! (the current aliased metric comes from `alias_metrics`, candidates from
//! `model_version_metrics`), then applied in the same write transaction, so
//! the plan and the change cannot drift apart.

use flotilla_core::model::Page;
use flotilla_core::validation;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::aliases::{self, BatchKind, NewBatch};
use super::{SqliteStore, families, now_ms, rows};
use crate::error::StoreResult;
use crate::fleet::{AliasEvent, AliasMove, AliasReport, AuditQuery, ChangeContext, PromotionRule, PromotionStore};
use crate::fleet_checks::{
    MAX_DESCRIBED_CONFLICTS, check_rollback_target, check_rule, rollback_conflict, rollback_conflicts, stored_rule,
};
use crate::paging;

/// The plan of a rule: the query listing its moves (columns: model id,
/// name, current version and metric, candidate version and metric, ordered
/// by name), its arguments, and how many members it examines.
fn plan_query(tx: &Connection, rule: &PromotionRule) -> StoreResult<(String, Vec<SqlValue>, i64)> {
    let family = families::family(tx, &rule.family)?;
    for p in &rule.partition {
        family.depth_of(&p.key)?;
    }
    let op = rule.op.sql();
    // The members are materialized and the joins fixed (CROSS JOIN): left
    // to itself, SQLite 3.50 drives the query from every `champion` metric
    // in the registry and probes family membership, 5x slower for a family
    // of 125,000 in a million.
    let mut members = String::from("SELECT fm.rm_id FROM fleet_members fm WHERE fm.family_id = ?");
    let mut args: Vec<SqlValue> = vec![family.id.into()];
    for p in &rule.partition {
        members.push_str(
            " AND EXISTS (SELECT 1 FROM member_partitions p WHERE p.rm_id = fm.rm_id AND p.key = ? AND p.value = ?)",
        );
        args.extend([SqlValue::from(p.key.clone()), SqlValue::from(p.value.clone())]);
    }
    let examined: i64 = tx
        .prepare(&format!("SELECT count(*) FROM ({members})"))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
    // ?1 alias, ?2 metric, ?3 factor; member filter arguments follow.
    let mut all: Vec<SqlValue> = vec![rule.alias.clone().into(), rule.metric.clone().into(), rule.factor.into()];
    all.extend(args);
    let unaliased = if rule.promote_unaliased {
        "UNION ALL
         SELECT m.rm_id, NULL, NULL,
                (SELECT max(mv.version) FROM model_version_metrics mv WHERE mv.rm_id = m.rm_id AND mv.key = ?2)
         FROM members m WHERE NOT EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = m.rm_id AND a.alias = ?1)"
    } else {
        ""
    };
    let sql = format!(
        "WITH members (rm_id) AS MATERIALIZED ({members}),
         planned (rm_id, cur, cur_value, cand) AS (
             SELECT m.rm_id, a.version, am.value,
                    (SELECT mv.version FROM model_version_metrics mv
                     WHERE mv.rm_id = m.rm_id AND mv.key = ?2 AND mv.version > a.version AND mv.value {op} ?3 * am.value
                     ORDER BY mv.version DESC LIMIT 1)
             FROM members m
             CROSS JOIN registered_model_aliases a ON a.rm_id = m.rm_id AND a.alias = ?1
             CROSS JOIN alias_metrics am ON am.rm_id = m.rm_id AND am.alias = ?1 AND am.key = ?2
             {unaliased}
         )
         SELECT p.rm_id, rm.name, p.cur, p.cur_value, p.cand,
                (SELECT mv.value FROM model_version_metrics mv WHERE mv.rm_id = p.rm_id AND mv.key = ?2 AND mv.version = p.cand)
         FROM planned p CROSS JOIN registered_models rm ON rm.rm_id = p.rm_id
         WHERE p.cand IS NOT NULL ORDER BY rm.name",
        members = numbered(&members, 4),
    );
    Ok((sql, all, examined))
}

/// The moves of `temp.alias_plan`, in plan order.
fn planned_moves(tx: &Connection) -> StoreResult<Vec<AliasMove>> {
    Ok(tx
        .prepare_cached(
            "SELECT model_name, alias, from_version, from_metric, to_version, to_metric FROM temp.alias_plan ORDER BY seq",
        )?
        .query_map([], |r| {
            Ok(AliasMove {
                model: r.get(0)?,
                alias: r.get(1)?,
                from: rows::opt_version_at(r, 2)?,
                from_metric: r.get(3)?,
                to: rows::opt_version_at(r, 4)?,
                to_metric: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Rewrites the `?` placeholders of `sql` as `?first`, `?first+1`, ...
fn numbered(sql: &str, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = first;
    for c in sql.chars() {
        if c == '?' {
            out.push_str(&format!("?{n}"));
            n += 1;
        } else {
            out.push(c);
        }
    }
    out
}

impl PromotionStore for SqliteStore {
    fn promote(&self, rule: &PromotionRule, dry_run: bool, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        check_rule(rule)?;
        if dry_run {
            return self.read(|tx| {
                let (sql, args, examined) = plan_query(tx, rule)?;
                let moves = tx
                    .prepare(&sql)?
                    .query_map(params_from_iter(args.iter()), |r| {
                        Ok(AliasMove {
                            model: r.get(1)?,
                            alias: rule.alias.clone(),
                            from: rows::opt_version_at(r, 2)?,
                            from_metric: r.get(3)?,
                            to: rows::opt_version_at(r, 4)?,
                            to_metric: r.get(5)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(AliasReport { batch_id: None, dry_run, examined, moves })
            });
        }
        let rule_json = stored_rule(rule)?;
        self.write_registry(|tx| {
            let (sql, args, examined) = plan_query(tx, rule)?;
            aliases::start_plan(tx)?;
            // The plan goes straight into the temp table; ?1 is the alias.
            let planned = tx
                .prepare(&format!(
                    "INSERT INTO temp.alias_plan (rm_id, model_name, from_version, from_metric, to_version, to_metric, alias)
                     SELECT *, ?1 FROM ({sql}) ORDER BY 2"
                ))?
                .execute(params_from_iter(args.iter()))?;
            if planned == 0 {
                return Ok(AliasReport { batch_id: None, dry_run, examined, moves: Vec::new() });
            }
            let batch = aliases::open_batch(
                tx,
                &NewBatch {
                    kind: BatchKind::Promotion,
                    actor: &ctx.actor,
                    actor_verified: ctx.actor_verified,
                    reason: &ctx.reason,
                    rule: Some(&rule_json),
                    reverts: None,
                },
            )?;
            aliases::apply_plan(tx, batch, Some(now_ms()))?;
            let moves = planned_moves(tx)?;
            let rule = serde_json::from_str(&rule_json).ok();
            crate::audit::note(crate::audit::Change::new("fleet.promote", "batch", batch.to_string()).diff(None, rule).count(moves.len()));
            aliases::start_plan(tx)?;
            Ok(AliasReport { batch_id: Some(batch), dry_run, examined, moves })
        })
    }

    fn rollback(&self, batch_id: i64, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.write_registry(|tx| {
            let reverted: Option<Option<i64>> = tx
                .prepare_cached("SELECT reverted_by FROM alias_batches WHERE batch_id = ?")?
                .query_row([batch_id], |r| r.get(0))
                .optional()?;
            check_rollback_target(batch_id, reverted)?;
            // Every alias the batch moved must still be where the batch left it.
            let mut conflicts = Vec::new();
            let mut n = 0usize;
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT e.model_name, e.alias, a.version, e.to_version FROM alias_events e
                     LEFT JOIN registered_model_aliases a ON a.rm_id = e.rm_id AND a.alias = e.alias
                     WHERE e.batch_id = ? AND a.version IS NOT e.to_version ORDER BY e.event_id DESC",
                )?;
                let mut rows = stmt.query([batch_id])?;
                while let Some(r) = rows.next()? {
                    n += 1;
                    if conflicts.len() < MAX_DESCRIBED_CONFLICTS {
                        let (model, alias, now_at, to): (String, String, Option<i64>, Option<i64>) =
                            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                        conflicts.push(rollback_conflict(&model, &alias, now_at, to));
                    }
                }
            }
            rollback_conflicts(batch_id, n, &conflicts)?;
            let batch = aliases::open_batch(
                tx,
                &NewBatch {
                    kind: BatchKind::Rollback,
                    actor: &ctx.actor,
                    actor_verified: ctx.actor_verified,
                    reason: &ctx.reason,
                    rule: None,
                    reverts: Some(batch_id),
                },
            )?;
            tx.prepare_cached("UPDATE alias_batches SET reverted_by = ? WHERE batch_id = ?")?
                .execute(params![batch, batch_id])?;
            // With no conflicts, each (model, alias) appears once in the batch:
            // two events for one alias would leave the first one's target moved.
            aliases::start_plan(tx)?;
            tx.prepare_cached(
                "INSERT INTO temp.alias_plan (rm_id, alias, model_name, from_version, to_version)
                 SELECT rm_id, alias, model_name, to_version, from_version FROM alias_events
                 WHERE batch_id = ? ORDER BY event_id DESC",
            )?
            .execute([batch_id])?;
            aliases::apply_plan(tx, batch, None)?;
            let moves = planned_moves(tx)?;
            crate::audit::note(
                crate::audit::Change::new("fleet.rollback", "batch", batch.to_string())
                    .diff(Some(serde_json::json!({"batch": batch_id})), None)
                    .count(moves.len()),
            );
            aliases::start_plan(tx)?;
            Ok(AliasReport { batch_id: Some(batch), dry_run: false, examined: moves.len() as i64, moves })
        })
    }

    fn audit_log(&self, query: &AuditQuery) -> StoreResult<Page<AliasEvent>> {
        let limit = validation::page_size(query.page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 1)?;
        self.read(|tx| {
            let mut sql = String::from(
                "SELECT e.event_id, e.batch_id, b.time, b.actor, b.kind, b.reason, e.model_name, e.alias, e.from_version, e.to_version, b.actor_verified
                 FROM alias_events e JOIN alias_batches b ON b.batch_id = e.batch_id WHERE 1 = 1",
            );
            let mut args: Vec<SqlValue> = Vec::new();
            if let Some(model) = &query.model {
                sql.push_str(" AND e.model_name = ?");
                args.push(model.clone().into());
            }
            if let Some(batch) = query.batch_id {
                sql.push_str(" AND e.batch_id = ?");
                args.push(batch.into());
            }
            if let Some(after) = cursor.as_ref().and_then(|c| c[0].as_i64()) {
                sql.push_str(" AND e.event_id < ?");
                args.push(after.into());
            }
            sql.push_str(&format!(" ORDER BY e.event_id DESC LIMIT {}", limit + 1));
            let mut items = tx
                .prepare(&sql)?
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok(AliasEvent {
                        event_id: r.get(0)?,
                        batch_id: r.get(1)?,
                        time: r.get(2)?,
                        actor: r.get(3)?,
                        kind: r.get(4)?,
                        reason: r.get(5)?,
                        model: r.get(6)?,
                        alias: r.get(7)?,
                        from: rows::opt_version_at(r, 8)?,
                        to: rows::opt_version_at(r, 9)?,
                        actor_verified: r.get(10)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = items.len() > limit;
            items.truncate(limit);
            let next_page_token = more.then(|| paging::encode(&vec![items[limit - 1].event_id.into()]));
            Ok(Page { items, next_page_token })
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(super::numbered("a = ? AND b = ?", 4), "a = ?4 AND b = ?5");
    }
}
