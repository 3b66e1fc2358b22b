//! Rule-based promotion, rollback of a batch, and reading the audit log on
//! PostgreSQL (as `sqlite/promotion.rs`). A promotion is planned with one
//! set-based query over the family's members (the current aliased metric
//! from `alias_metrics`, candidates from `model_version_metrics`) and
//! applied in the same SERIALIZABLE transaction, so the plan and the change
//! cannot drift apart; the moves are written set by set
//! ([`super::alias_plan`]). Rule checks, the rule's stored form and the
//! refusals' words are the store's ([`crate::fleet_checks`]).

use flotilla_core::model::Page;
use flotilla_core::validation;
use postgres::Row;

use super::alias_plan::{self, PlannedMove, open_batch};
use super::families::{self, version};
use super::sql::{self, Value};
use super::{PgStore, Tx};
use crate::error::StoreResult;
use crate::fleet::{AliasEvent, AliasMove, AliasReport, AuditQuery, ChangeContext, PromotionRule, PromotionStore};
use crate::fleet_checks::{
    MAX_DESCRIBED_CONFLICTS, check_rollback_target, check_rule, rollback_conflict, rollback_conflicts, stored_rule,
};
use crate::paging;
use crate::sqlite::aliases::{BatchKind, NewBatch};
use crate::sqlite::now_ms;

/// The members a rule looks at, their placeholders numbered from `$first`:
/// the family id, then each partition level's key and value.
fn members_sql(partition_levels: usize, first: usize) -> String {
    let mut sql = format!("SELECT fm.rm_id FROM fleet_members fm WHERE fm.family_id = ${first}");
    for i in 0..partition_levels {
        let (k, v) = (first + 1 + 2 * i, first + 2 + 2 * i);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM member_partitions p WHERE p.rm_id = fm.rm_id AND p.key = ${k} AND p.value = ${v})"
        ));
    }
    sql
}

/// One planned move of a rule: model id, name, current version and metric,
/// candidate version and metric.
type PlanRow = (i64, String, Option<i64>, Option<f64>, i64, Option<f64>);

/// The moves a rule plans, ordered by model name, and how many members it examines.
fn plan(tx: &mut Tx<'_>, rule: &PromotionRule) -> StoreResult<(Vec<PlanRow>, i64)> {
    let family = families::family(tx, &rule.family)?;
    for p in &rule.partition {
        family.depth_of(&p.key)?;
    }
    let mut member_args = vec![Value::Int(family.id)];
    for p in &rule.partition {
        member_args.extend([Value::Text(p.key.clone()), Value::Text(p.value.clone())]);
    }
    let examined: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM ({}) m", members_sql(rule.partition.len(), 1)),
            &sql::params(&member_args),
        )?
        .get(0);
    // $1 alias, $2 metric, $3 factor; the member filter's arguments follow.
    let mut args = vec![Value::Text(rule.alias.clone()), Value::Text(rule.metric.clone()), Value::Real(rule.factor)];
    args.extend(member_args);
    let unaliased = if rule.promote_unaliased {
        "UNION ALL
         SELECT m.rm_id, NULL::bigint, NULL::float8,
                (SELECT max(mv.version) FROM model_version_metrics mv WHERE mv.rm_id = m.rm_id AND mv.key = $2)
         FROM members m
         WHERE NOT EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = m.rm_id AND a.alias = $1)"
    } else {
        ""
    };
    let op = rule.op.sql();
    let query = format!(
        "WITH members AS MATERIALIZED ({members}),
         planned (rm_id, cur, cur_value, cand) AS (
             SELECT m.rm_id, a.version, am.value,
                    (SELECT mv.version FROM model_version_metrics mv
                     WHERE mv.rm_id = m.rm_id AND mv.key = $2 AND mv.version > a.version
                       AND mv.value {op} $3::float8 * am.value
                     ORDER BY mv.version DESC LIMIT 1)
             FROM members m
             JOIN registered_model_aliases a ON a.rm_id = m.rm_id AND a.alias = $1
             JOIN alias_metrics am ON am.rm_id = m.rm_id AND am.alias = $1 AND am.key = $2
             {unaliased}
         )
         SELECT p.rm_id, rm.name, p.cur, p.cur_value, p.cand,
                (SELECT mv.value FROM model_version_metrics mv
                 WHERE mv.rm_id = p.rm_id AND mv.key = $2 AND mv.version = p.cand)
         FROM planned p JOIN registered_models rm ON rm.rm_id = p.rm_id
         WHERE p.cand IS NOT NULL ORDER BY rm.name",
        members = members_sql(rule.partition.len(), 4),
    );
    let rows = tx.query(&query, &sql::params(&args))?;
    let planned = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect();
    Ok((planned, examined))
}

fn planned_move(alias: &str, (_, model, from, from_metric, to, to_metric): &PlanRow) -> StoreResult<AliasMove> {
    Ok(AliasMove {
        model: model.clone(),
        alias: alias.to_string(),
        from: from.map(version).transpose()?,
        to: Some(version(*to)?),
        from_metric: *from_metric,
        to_metric: *to_metric,
    })
}

fn batch_of<'a>(kind: BatchKind, ctx: &'a ChangeContext, rule: Option<&'a str>, reverts: Option<i64>) -> NewBatch<'a> {
    NewBatch { kind, actor: &ctx.actor, actor_verified: ctx.actor_verified, reason: &ctx.reason, rule, reverts }
}

fn event_at(r: &Row) -> StoreResult<AliasEvent> {
    Ok(AliasEvent {
        event_id: r.get(0),
        batch_id: r.get(1),
        time: r.get(2),
        actor: r.get(3),
        kind: r.get(4),
        reason: r.get(5),
        model: r.get(6),
        alias: r.get(7),
        from: r.get::<_, Option<i64>>(8).map(version).transpose()?,
        to: r.get::<_, Option<i64>>(9).map(version).transpose()?,
        actor_verified: r.get(10),
    })
}

impl PromotionStore for PgStore {
    fn promote(&self, rule: &PromotionRule, dry_run: bool, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        check_rule(rule)?;
        if dry_run {
            return self.read(|tx| {
                let (planned, examined) = plan(tx, rule)?;
                let moves = planned.iter().map(|p| planned_move(&rule.alias, p)).collect::<StoreResult<_>>()?;
                Ok(AliasReport { batch_id: None, dry_run, examined, moves })
            });
        }
        let rule_json = stored_rule(rule)?;
        self.write_registry(|tx| {
            let (planned, examined) = plan(tx, rule)?;
            if planned.is_empty() {
                return Ok(AliasReport { batch_id: None, dry_run, examined, moves: Vec::new() });
            }
            let batch = open_batch(tx, &batch_of(BatchKind::Promotion, ctx, Some(&rule_json), None))?;
            let plan: Vec<PlannedMove> = planned
                .iter()
                .map(|(rm_id, model, from, _, to, _)| PlannedMove {
                    rm_id: *rm_id,
                    model: model.clone(),
                    alias: rule.alias.clone(),
                    from: *from,
                    to: Some(*to),
                })
                .collect();
            alias_plan::apply(tx, batch, &plan, Some(now_ms()))?;
            let moves: Vec<AliasMove> =
                planned.iter().map(|p| planned_move(&rule.alias, p)).collect::<StoreResult<_>>()?;
            let stored = serde_json::from_str(&rule_json).ok();
            crate::audit::note(
                crate::audit::Change::new("fleet.promote", "batch", batch.to_string())
                    .diff(None, stored)
                    .count(moves.len()),
            );
            Ok(AliasReport { batch_id: Some(batch), dry_run, examined, moves })
        })
    }

    fn rollback(&self, batch_id: i64, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.write_registry(|tx| {
            let reverted = tx
                .query_opt("SELECT reverted_by FROM alias_batches WHERE batch_id = $1", &[&batch_id])?
                .map(|r| r.get::<_, Option<i64>>(0));
            check_rollback_target(batch_id, reverted)?;
            // Every alias the batch moved must still be where the batch left it.
            let moved = tx.query(
                "SELECT e.model_name, e.alias, a.version, e.to_version FROM alias_events e
                 LEFT JOIN registered_model_aliases a ON a.rm_id = e.rm_id AND a.alias = e.alias
                 WHERE e.batch_id = $1 AND a.version IS DISTINCT FROM e.to_version ORDER BY e.event_id DESC",
                &[&batch_id],
            )?;
            let conflicts: Vec<String> = moved
                .iter()
                .take(MAX_DESCRIBED_CONFLICTS)
                .map(|r| rollback_conflict(r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
            rollback_conflicts(batch_id, moved.len(), &conflicts)?;
            let batch = open_batch(tx, &batch_of(BatchKind::Rollback, ctx, None, Some(batch_id)))?;
            tx.execute("UPDATE alias_batches SET reverted_by = $1 WHERE batch_id = $2", &[&batch, &batch_id])?;
            // With no conflicts, each (model, alias) appears once in the batch:
            // two events for one alias would leave the first one's target moved.
            let plan: Vec<PlannedMove> = tx
                .query(
                    "SELECT rm_id, model_name, alias, to_version, from_version FROM alias_events
                     WHERE batch_id = $1 ORDER BY event_id DESC",
                    &[&batch_id],
                )?
                .iter()
                .map(|r| PlannedMove {
                    rm_id: r.get(0),
                    model: r.get(1),
                    alias: r.get(2),
                    from: r.get(3),
                    to: r.get(4),
                })
                .collect();
            alias_plan::apply(tx, batch, &plan, None)?;
            let moves = plan
                .iter()
                .map(|m| {
                    Ok(AliasMove {
                        model: m.model.clone(),
                        alias: m.alias.clone(),
                        from: m.from.map(version).transpose()?,
                        to: m.to.map(version).transpose()?,
                        from_metric: None,
                        to_metric: None,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            crate::audit::note(
                crate::audit::Change::new("fleet.rollback", "batch", batch.to_string())
                    .diff(Some(serde_json::json!({"batch": batch_id})), None)
                    .count(moves.len()),
            );
            Ok(AliasReport { batch_id: Some(batch), dry_run: false, examined: moves.len() as i64, moves })
        })
    }

    fn audit_log(&self, query: &AuditQuery) -> StoreResult<Page<AliasEvent>> {
        let limit = validation::page_size(query.page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 1)?;
        let mut sql = String::from(
            "SELECT e.event_id, e.batch_id, b.time, b.actor, b.kind, b.reason, e.model_name, e.alias,
                    e.from_version, e.to_version, b.actor_verified
             FROM alias_events e JOIN alias_batches b ON b.batch_id = e.batch_id WHERE TRUE",
        );
        let mut args: Vec<Value> = Vec::new();
        if let Some(model) = &query.model {
            sql.push_str(" AND e.model_name = ?");
            args.push(Value::Text(model.clone()));
        }
        if let Some(batch) = query.batch_id {
            sql.push_str(" AND e.batch_id = ?");
            args.push(Value::Int(batch));
        }
        if let Some(after) = cursor.as_ref().and_then(|c| c[0].as_i64()) {
            sql.push_str(" AND e.event_id < ?");
            args.push(Value::Int(after));
        }
        sql.push_str(&format!(" ORDER BY e.event_id DESC LIMIT {}", limit + 1));
        let sql = sql::numbered(&sql);
        self.read(|tx| {
            let mut items =
                tx.query(&sql, &sql::params(&args))?.iter().map(event_at).collect::<StoreResult<Vec<_>>>()?;
            let more = items.len() > limit;
            items.truncate(limit);
            let next_page_token = more.then(|| paging::encode(&vec![items[limit - 1].event_id.into()]));
            Ok(Page { items, next_page_token })
        })
    }
}
