//! The audit trail in SQLite (`audit_events`, migration 10): the row every
//! write under an [`AuditContext`](crate::audit::AuditContext) appends before it commits, and the
//! filtered, keyset-paged reads of the API, the CLI and the UI.

use flotilla_core::model::Page;
use flotilla_core::validation;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};

use super::{SqliteStore, now_ms};
use crate::StoreResult;
use crate::audit::{self, AuditEvent, AuditEventQuery, AuditStore, Change};
use crate::paging;

/// Appends the row of the write in `tx` when it runs under a context; what
/// the write noted names it, else the context's operation does.
pub(super) fn append(tx: &Connection) -> StoreResult<()> {
    let note = audit::take_note();
    audit::with_current(|ctx| {
        let Some(ctx) = ctx else {
            return Ok(());
        };
        let change = note.unwrap_or_else(|| Change::new(&ctx.operation, "", ""));
        let mut stmt = tx.prepare_cached(
            "INSERT INTO audit_events (time, actor, method, token_id, client, request_id, action,
                                       resource_kind, resource_id, outcome, before, after, count)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
        )?;
        stmt.execute(params![
            now_ms(),
            ctx.actor,
            ctx.method,
            ctx.token_id,
            ctx.client,
            ctx.request_id,
            change.action,
            change.resource_kind,
            change.resource_id,
            change.before,
            change.after,
            change.count,
        ])?;
        Ok(())
    })
}

/// The distinct actions starting with `prefix`, by a skip scan of the
/// action index (one seek per action, however many rows each has); at most
/// 400, under SQLite's limit on a compound query.
fn actions_under(tx: &Connection, prefix: &str) -> StoreResult<Vec<String>> {
    let end = format!("{prefix}\u{10FFFF}");
    let mut stmt = tx.prepare_cached(
        "WITH RECURSIVE a(x) AS (
             SELECT (SELECT min(action) FROM audit_events WHERE action >= ?1 AND action < ?2)
             UNION ALL
             SELECT (SELECT min(action) FROM audit_events WHERE action > a.x AND action < ?2) FROM a
             WHERE a.x IS NOT NULL LIMIT 400
         )
         SELECT x FROM a WHERE x IS NOT NULL",
    )?;
    let actions = stmt.query_map(params![prefix, end], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(actions)
}

/// One text value (a description, a tag's value, a stage) before a write
/// changes it; `None` when there is no such row.
pub(super) fn scalar<P: rusqlite::Params>(tx: &Connection, sql: &str, params: P) -> StoreResult<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(tx.prepare_cached(sql)?.query_row(params, |r| r.get(0)).optional()?)
}

impl AuditStore for SqliteStore {
    fn record(&self, change: &Change) -> StoreResult<()> {
        self.write(|_| {
            audit::note(change.clone());
            Ok(())
        })
    }

    fn audit_events(&self, query: &AuditEventQuery) -> StoreResult<Page<AuditEvent>> {
        let limit = validation::page_size(query.page.max_results, (100, 1000), "max_results")?;
        let cursor = paging::decode_opt(query.page.page_token.as_deref(), 1)?;
        // The filters other than the action, ANDed.
        let mut filter = String::new();
        let mut args: Vec<SqlValue> = Vec::new();
        let mut eq = |column: &str, value: &Option<String>| {
            if let Some(v) = value {
                filter.push_str(&format!(" AND {column} = ?"));
                args.push(v.clone().into());
            }
        };
        eq("actor", &query.actor);
        eq("resource_kind", &query.resource_kind);
        eq("resource_id", &query.resource_id);
        eq("request_id", &query.request_id);
        if let Some(since) = query.since {
            filter.push_str(" AND time >= ?");
            args.push(since.into());
        }
        if let Some(until) = query.until {
            filter.push_str(" AND time < ?");
            args.push(until.into());
        }
        if let Some(after) = cursor.as_ref().and_then(|c| c[0].as_i64()) {
            filter.push_str(" AND id < ?");
            args.push(after.into());
        }
        let columns = "id, time, actor, method, token_id, client, request_id, action, resource_kind,
                       resource_id, outcome, before, after, count";
        self.read(|tx| {
            // An action (or each action under a prefix) is walked newest first on
            // its own (action, id) index and the walks merged, so a page of a
            // common prefix does not sort every row it matches.
            let actions = match query.action.as_deref().map(|a| (a, a.strip_suffix('*'))) {
                Some((_, Some(prefix))) => Some(actions_under(tx, prefix)?),
                Some((action, None)) => Some(vec![action.to_string()]),
                None => None,
            };
            let (sql, args) = match actions {
                None => (
                    format!("SELECT {columns} FROM audit_events WHERE 1 = 1{filter} ORDER BY id DESC LIMIT {}", limit + 1),
                    args.clone(),
                ),
                Some(actions) if actions.is_empty() => return Ok(Page { items: Vec::new(), next_page_token: None }),
                Some(actions) => {
                    let walk = format!(
                        "SELECT * FROM (SELECT {columns} FROM audit_events WHERE action = ?{filter} ORDER BY id DESC LIMIT {})",
                        limit + 1
                    );
                    let sql = format!(
                        "{} ORDER BY id DESC LIMIT {}",
                        vec![walk; actions.len()].join(" UNION ALL "),
                        limit + 1
                    );
                    let mut all = Vec::new();
                    for action in actions {
                        all.push(SqlValue::from(action));
                        all.extend(args.iter().cloned());
                    }
                    (sql, all)
                }
            };
            let mut items = tx
                .prepare(&sql)?
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok(AuditEvent {
                        id: r.get(0)?,
                        time: r.get(1)?,
                        actor: r.get(2)?,
                        method: r.get(3)?,
                        token_id: r.get(4)?,
                        client: r.get(5)?,
                        request_id: r.get(6)?,
                        action: r.get(7)?,
                        resource_kind: r.get(8)?,
                        resource_id: r.get(9)?,
                        outcome: r.get(10)?,
                        before: r.get(11)?,
                        after: r.get(12)?,
                        count: r.get(13)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = items.len() > limit;
            items.truncate(limit);
            let next_page_token = more.then(|| paging::encode(&vec![items[limit - 1].id.into()]));
            Ok(Page { items, next_page_token })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PageRequest;
    use crate::audit::AuditContext;
    use crate::prelude::*;

    fn ctx(actor: &str, request: &str) -> AuditContext {
        AuditContext {
            actor: actor.into(),
            method: "password".into(),
            token_id: None,
            client: Some("10.0.0.7".into()),
            request_id: Some(request.into()),
            operation: "POST /test".into(),
        }
    }

    #[test]
    fn writes_under_a_context_leave_one_row_each_and_failures_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        store.create_experiment("outside", None, &[]).unwrap();
        ctx("alice", "r1").run(|| store.create_experiment("inside", None, &[]).unwrap());
        ctx("alice", "r2").run(|| store.create_experiment("inside", None, &[]).unwrap_err());
        ctx("bob", "r3").run(|| store.record(&Change::new("artifact.write", "artifact", "1/a.txt")).unwrap());
        let all = store.audit_events(&AuditEventQuery::default()).unwrap().items;
        let seen: Vec<(&str, &str, Option<&str>)> =
            all.iter().map(|e| (e.actor.as_str(), e.action.as_str(), e.request_id.as_deref())).collect();
        assert_eq!(seen, [("bob", "artifact.write", Some("r3")), ("alice", "experiment.create", Some("r1"))]);
        assert_eq!(all[1].client.as_deref(), Some("10.0.0.7"));
        // Filters and paging.
        let q = |f: fn(&mut AuditEventQuery)| {
            let mut q = AuditEventQuery::default();
            f(&mut q);
            store.audit_events(&q).unwrap().items.len()
        };
        assert_eq!(q(|q| q.actor = Some("alice".into())), 1);
        assert_eq!(q(|q| q.action = Some("experiment.*".into())), 1);
        assert_eq!(q(|q| q.action = Some("experiment.".into())), 0);
        assert_eq!(q(|q| q.request_id = Some("r3".into())), 1);
        assert_eq!(q(|q| q.since = Some(now_ms() + 60_000)), 0);
        let first = store
            .audit_events(&AuditEventQuery {
                page: PageRequest { max_results: Some(1), page_token: None },
                ..AuditEventQuery::default()
            })
            .unwrap();
        let second = store
            .audit_events(&AuditEventQuery {
                page: PageRequest { max_results: Some(1), page_token: first.next_page_token },
                ..AuditEventQuery::default()
            })
            .unwrap();
        assert_eq!(second.items[0].action, "experiment.create");
        assert!(second.next_page_token.is_none());
    }

    /// The cost of the audit row on run logging: log-batch calls with and
    /// without a context (`cargo nextest run -p flotilla-store --run-ignored
    /// only -E 'test(log_batch_throughput)' --no-capture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn log_batch_throughput_with_and_without_the_audit_row() {
        use flotilla_core::model::Metric;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let exp = store.create_experiment("e", None, &[]).unwrap();
        let run =
            store.create_run(&crate::NewRun { experiment_id: exp, ..crate::NewRun::default() }).unwrap().info.run_id;
        let batch = |step: i64| -> Vec<Metric> {
            (0..10)
                .map(|k| Metric {
                    key: format!("m{k}"),
                    value: 1.0,
                    timestamp: 1,
                    step,
                    model_id: None,
                    dataset_name: None,
                    dataset_digest: None,
                    run_id: None,
                })
                .collect()
        };
        // Alternating rounds, medians: the machine is shared and noisy.
        let rounds = 500;
        let (mut without, mut with) = (Vec::new(), Vec::new());
        let audited = ctx("alice", "r");
        for i in 0..12 {
            let context = (i % 2 == 1).then_some(&audited);
            let started = std::time::Instant::now();
            for step in 0..rounds {
                let log = || store.log_batch(&run, &batch(i * rounds + step), &[], &[]).unwrap();
                match context {
                    Some(c) => c.run(log),
                    None => log(),
                }
            }
            let per_s = f64::from(rounds as u32) / started.elapsed().as_secs_f64();
            if context.is_some() { with.push(per_s) } else { without.push(per_s) }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "log-batch (10 metrics): {:.0}/s without the audit row, {:.0}/s with it (medians of 6 rounds of {rounds})",
            median(&mut without),
            median(&mut with)
        );
    }
}
