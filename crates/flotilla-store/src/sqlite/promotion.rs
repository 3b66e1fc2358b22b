//! Rule-based promotion, rollback of a batch, and reading the audit log.
//!
//! A promotion is planned with one set-based query over the family's members
//! (the current aliased metric comes from `alias_metrics`, candidates from
//! `model_version_metrics`), then applied in the same write transaction, so
//! the plan and the change cannot drift apart.

use flotilla_core::fleet;
use flotilla_core::model::Page;
use flotilla_core::{Error, validation};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use super::aliases::{self, BatchKind, NewBatch};
use super::{SqliteStore, families, now_ms};
use crate::error::StoreResult;
use crate::fleet::{AliasEvent, AliasMove, AliasReport, AuditQuery, ChangeContext, PromotionRule};
use crate::paging;

/// An audit event as rollback reads it: model id and name, alias, from, to.
type EventRow = (i64, String, String, Option<i64>, Option<i64>);

struct Planned {
    rm_id: i64,
    mv: AliasMove,
}

fn check_rule(rule: &PromotionRule) -> StoreResult<()> {
    validation::alias(&rule.alias)?;
    validation::entity_key("Metric", &rule.metric)?;
    if !rule.factor.is_finite() || rule.factor <= 0.0 {
        return Err(Error::invalid(format!("rule factor must be a positive number, got {}", rule.factor)).into());
    }
    rule.partition.iter().try_for_each(fleet::PartitionValue::validate)?;
    Ok(())
}

/// The moves a rule asks for, and how many members it examined.
fn plan(tx: &Transaction<'_>, rule: &PromotionRule) -> StoreResult<(i64, Vec<Planned>)> {
    let family = families::family(tx, &rule.family)?;
    for p in &rule.partition {
        family.depth_of(&p.key)?;
    }
    let op = rule.op.sql();
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
    all.extend(args.iter().cloned());
    let unaliased = if rule.promote_unaliased {
        "UNION ALL
         SELECT m.rm_id, NULL, NULL,
                (SELECT max(mv.version) FROM model_version_metrics mv WHERE mv.rm_id = m.rm_id AND mv.key = ?2)
         FROM members m WHERE NOT EXISTS (SELECT 1 FROM registered_model_aliases a WHERE a.rm_id = m.rm_id AND a.alias = ?1)"
    } else {
        ""
    };
    let sql = format!(
        "WITH members (rm_id) AS ({members}),
         planned (rm_id, cur, cur_value, cand) AS (
             SELECT m.rm_id, a.version, am.value,
                    (SELECT mv.version FROM model_version_metrics mv
                     WHERE mv.rm_id = m.rm_id AND mv.key = ?2 AND mv.version > a.version AND mv.value {op} ?3 * am.value
                     ORDER BY mv.version DESC LIMIT 1)
             FROM members m
             JOIN registered_model_aliases a ON a.rm_id = m.rm_id AND a.alias = ?1
             JOIN alias_metrics am ON am.rm_id = m.rm_id AND am.alias = ?1 AND am.key = ?2
             {unaliased}
         )
         SELECT p.rm_id, rm.name, p.cur, p.cur_value, p.cand,
                (SELECT mv.value FROM model_version_metrics mv WHERE mv.rm_id = p.rm_id AND mv.key = ?2 AND mv.version = p.cand)
         FROM planned p JOIN registered_models rm ON rm.rm_id = p.rm_id
         WHERE p.cand IS NOT NULL ORDER BY rm.name",
        members = numbered(&members, 4),
    );
    let mut stmt = tx.prepare(&sql)?;
    let planned = stmt
        .query_map(params_from_iter(all.iter()), |r| {
            Ok(Planned {
                rm_id: r.get(0)?,
                mv: AliasMove {
                    model: r.get(1)?,
                    alias: rule.alias.clone(),
                    from: r.get(2)?,
                    from_metric: r.get(3)?,
                    to: r.get(4)?,
                    to_metric: r.get(5)?,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((examined, planned))
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

impl SqliteStore {
    pub(crate) fn promote_impl(
        &self,
        rule: &PromotionRule,
        dry_run: bool,
        ctx: &ChangeContext,
    ) -> StoreResult<AliasReport> {
        check_rule(rule)?;
        if dry_run {
            return self.read(|tx| {
                let (examined, planned) = plan(tx, rule)?;
                Ok(AliasReport {
                    batch_id: None,
                    dry_run,
                    examined,
                    moves: planned.into_iter().map(|p| p.mv).collect(),
                })
            });
        }
        let rule_json = serde_json::to_string(rule).map_err(|e| Error::internal(e.to_string()))?;
        self.write_registry(|tx| {
            let (examined, planned) = plan(tx, rule)?;
            if planned.is_empty() {
                return Ok(AliasReport { batch_id: None, dry_run, examined, moves: Vec::new() });
            }
            let batch = aliases::open_batch(
                tx,
                &NewBatch {
                    kind: BatchKind::Promotion,
                    actor: &ctx.actor,
                    reason: &ctx.reason,
                    rule: Some(&rule_json),
                    reverts: None,
                },
            )?;
            for p in &planned {
                aliases::move_alias(tx, batch, p.rm_id, &p.mv.model, &p.mv.alias, p.mv.to)?;
            }
            let ids = serde_json::to_string(&planned.iter().map(|p| p.rm_id).collect::<Vec<_>>())
                .map_err(|e| Error::internal(e.to_string()))?;
            tx.prepare_cached(
                "UPDATE registered_models SET last_update_time = ? WHERE rm_id IN (SELECT value FROM json_each(?))",
            )?
            .execute(params![now_ms(), ids])?;
            Ok(AliasReport {
                batch_id: Some(batch),
                dry_run,
                examined,
                moves: planned.into_iter().map(|p| p.mv).collect(),
            })
        })
    }

    pub(crate) fn rollback_impl(&self, batch_id: i64, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.write_registry(|tx| {
            let reverted: Option<Option<i64>> = tx
                .prepare_cached("SELECT reverted_by FROM alias_batches WHERE batch_id = ?")?
                .query_row([batch_id], |r| r.get(0))
                .optional()?;
            match reverted {
                None => return Err(Error::not_found(format!("batch {batch_id} does not exist")).into()),
                Some(Some(by)) => {
                    return Err(Error::invalid_state(format!(
                        "batch {batch_id} was already rolled back by batch {by}"
                    ))
                    .into());
                }
                Some(None) => {}
            }
            let events: Vec<EventRow> = tx
                .prepare_cached(
                    "SELECT rm_id, model_name, alias, from_version, to_version FROM alias_events
                     WHERE batch_id = ? ORDER BY event_id DESC",
                )?
                .query_map([batch_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            let mut conflicts = Vec::new();
            for (rm_id, model, alias, _, to) in &events {
                let now_at = aliases::current(tx, *rm_id, alias)?;
                if now_at != *to {
                    conflicts.push(format!("{model}@{alias} is at {} now, not {}", show(now_at), show(*to)));
                }
            }
            if !conflicts.is_empty() {
                let n = conflicts.len();
                conflicts.truncate(20);
                return Err(Error::invalid_state(format!(
                    "cannot roll back batch {batch_id}: {n} alias(es) moved since, nothing was changed: {}",
                    conflicts.join("; ")
                ))
                .into());
            }
            let batch = aliases::open_batch(
                tx,
                &NewBatch {
                    kind: BatchKind::Rollback,
                    actor: &ctx.actor,
                    reason: &ctx.reason,
                    rule: None,
                    reverts: Some(batch_id),
                },
            )?;
            tx.prepare_cached("UPDATE alias_batches SET reverted_by = ? WHERE batch_id = ?")?
                .execute(params![batch, batch_id])?;
            let mut moves = Vec::with_capacity(events.len());
            for (rm_id, model, alias, from, to) in events {
                aliases::move_alias(tx, batch, rm_id, &model, &alias, from)?;
                moves.push(AliasMove { model, alias, from: to, to: from, from_metric: None, to_metric: None });
            }
            Ok(AliasReport { batch_id: Some(batch), dry_run: false, examined: moves.len() as i64, moves })
        })
    }

    pub(crate) fn audit_log_impl(&self, query: &AuditQuery) -> StoreResult<Page<AliasEvent>> {
        let limit = validation::page_size(query.page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 1)?;
        self.read(|tx| {
            let mut sql = String::from(
                "SELECT e.event_id, e.batch_id, b.time, b.actor, b.kind, b.reason, e.model_name, e.alias, e.from_version, e.to_version
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
                        from: r.get(8)?,
                        to: r.get(9)?,
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

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| format!("version {v}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(super::numbered("a = ? AND b = ?", 4), "a = ?4 AND b = ?5");
    }
}
