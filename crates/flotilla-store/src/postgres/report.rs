//! Reports on PostgreSQL: alias moves per week (as `sqlite/report.rs`) and
//! scheduled reports, their rules and the reports made (migration 26; as
//! `sqlite/report_schedules.rs`, every change audited). The sections' reads
//! are `report_sections.rs`.

use flotilla_core::Error;
use postgres::Row;

use super::{PgStore, Tx};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::report::{MAX_SCHEDULES, MoveCount, NewSchedule, ReportRun, ReportScheduleStore, Schedule, WEEK_MS};
use crate::sqlite::now_ms;

impl crate::report::ReportStore for PgStore {
    fn alias_moves(&self, from: i64, to: i64, family: Option<&str>, limit: usize) -> StoreResult<Vec<MoveCount>> {
        self.read(|tx| {
            // The first batch at or after `from`: batches are appended in time order.
            let first = tx
                .query_opt("SELECT batch_id FROM alias_batches WHERE time >= $1 ORDER BY batch_id LIMIT 1", &[&from])?;
            let Some(first) = first.map(|r| r.get::<_, i64>(0)) else { return Ok(Vec::new()) };
            let rows = tx.query(
                "SELECT (b.time / $1) * $1 AS week, b.actor, b.kind, count(*) AS n
                 FROM alias_batches b JOIN alias_events e ON e.batch_id = b.batch_id
                 WHERE b.batch_id >= $2 AND b.time >= $3 AND b.time < $4
                   AND ($5::text IS NULL OR e.rm_id IN (
                        SELECT m.rm_id FROM fleet_members m JOIN families f ON f.family_id = m.family_id
                        WHERE f.name = $5::text))
                 GROUP BY week, b.actor, b.kind
                 ORDER BY week, n DESC, b.actor
                 LIMIT $6",
                &[&WEEK_MS, &first, &from, &to, &family, &(limit as i64)],
            )?;
            Ok(rows
                .iter()
                .map(|r| MoveCount { week: r.get(0), actor: r.get(1), kind: r.get(2), moves: r.get(3) })
                .collect())
        })
    }
}

const SCHEDULE_COLUMNS: &str =
    "schedule_id, name, every, query, family, webhook_url, secret, origin, created, created_by, next_run";
const RUN_COLUMNS: &str = "run_id, schedule_id, name, query, family, time, path, bytes, error, notified";

fn schedule_row(r: &Row) -> Schedule {
    Schedule {
        id: r.get(0),
        name: r.get(1),
        every: r.get(2),
        query: r.get(3),
        family: r.get(4),
        webhook_url: r.get(5),
        secret: r.get(6),
        origin: r.get(7),
        created: r.get(8),
        created_by: r.get(9),
        next_run: r.get(10),
    }
}

fn run_row(r: &Row) -> ReportRun {
    ReportRun {
        id: r.get(0),
        schedule_id: r.get(1),
        name: r.get(2),
        query: r.get(3),
        family: r.get(4),
        time: r.get(5),
        path: r.get(6),
        bytes: r.get(7),
        error: r.get(8),
        notified: r.get(9),
    }
}

fn get(tx: &mut Tx<'_>, id: i64) -> StoreResult<Schedule> {
    tx.query_opt(&format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE schedule_id = $1"), &[&id])?
        .map(|r| schedule_row(&r))
        .ok_or_else(|| Error::not_found(format!("Report schedule {id} not found")).into())
}

fn schedule_named(tx: &mut Tx<'_>, name: &str) -> StoreResult<Option<i64>> {
    Ok(tx.query_opt("SELECT schedule_id FROM report_schedules WHERE name = $1", &[&name])?.map(|r| r.get(0)))
}

fn insert(tx: &mut Tx<'_>, s: &NewSchedule) -> StoreResult<i64> {
    let n: i64 = tx.query_one("SELECT count(*) FROM report_schedules", &[])?.get(0);
    if n >= MAX_SCHEDULES {
        return Err(Error::invalid(format!("at most {MAX_SCHEDULES} report schedules are kept")).into());
    }
    let row = tx.query_one(
        "INSERT INTO report_schedules (name, every, query, family, webhook_url, secret, origin, created, created_by, \
         next_run) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING schedule_id",
        &[
            &s.name,
            &s.every,
            &s.query,
            &s.family,
            &s.webhook_url,
            &s.secret,
            &s.origin,
            &now_ms(),
            &s.created_by,
            &s.next_run,
        ],
    )?;
    Ok(row.get(0))
}

impl ReportScheduleStore for PgStore {
    fn create_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule> {
        self.write(|tx| {
            if schedule_named(tx, &s.name)?.is_some() {
                return Err(Error::already_exists(format!("Report schedule '{}' already exists", s.name)).into());
            }
            let id = insert(tx, s)?;
            note(Change::new("report_schedule.create", "report_schedule", id.to_string()));
            get(tx, id)
        })
    }

    fn upsert_flag_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule> {
        self.write(|tx| {
            let id = match schedule_named(tx, &s.name)? {
                Some(id) => {
                    tx.execute(
                        "UPDATE report_schedules SET every = $2, query = $3, family = $4, webhook_url = $5, \
                         secret = $6, origin = $7, next_run = least(next_run, $8) WHERE schedule_id = $1",
                        &[&id, &s.every, &s.query, &s.family, &s.webhook_url, &s.secret, &s.origin, &s.next_run],
                    )?;
                    note(Change::new("report_schedule.update", "report_schedule", id.to_string()));
                    id
                }
                None => {
                    let id = insert(tx, s)?;
                    note(Change::new("report_schedule.create", "report_schedule", id.to_string()));
                    id
                }
            };
            get(tx, id)
        })
    }

    fn schedules(&self) -> StoreResult<Vec<Schedule>> {
        self.read(|tx| {
            let sql =
                format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules ORDER BY schedule_id LIMIT {MAX_SCHEDULES}");
            Ok(tx.query(&sql, &[])?.iter().map(schedule_row).collect())
        })
    }

    fn get_schedule(&self, id: i64) -> StoreResult<Schedule> {
        self.read(|tx| get(tx, id))
    }

    fn delete_schedule(&self, id: i64) -> StoreResult<()> {
        self.write(|tx| {
            get(tx, id)?;
            tx.execute("DELETE FROM report_schedules WHERE schedule_id = $1", &[&id])?;
            note(Change::new("report_schedule.delete", "report_schedule", id.to_string()));
            Ok(())
        })
    }

    fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<Schedule>> {
        self.read(|tx| {
            let sql = format!(
                "SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE next_run <= $1 ORDER BY next_run, schedule_id \
                 LIMIT $2"
            );
            Ok(tx.query(&sql, &[&now, &(limit as i64)])?.iter().map(schedule_row).collect())
        })
    }

    fn record_report_run(&self, run: &ReportRun, next_run: i64) -> StoreResult<i64> {
        self.write(|tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO report_runs (schedule_id, name, query, family, time, path, bytes, error, notified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING run_id",
                    &[
                        &run.schedule_id,
                        &run.name,
                        &run.query,
                        &run.family,
                        &run.time,
                        &run.path,
                        &run.bytes,
                        &run.error,
                        &run.notified,
                    ],
                )?
                .get(0);
            if let Some(s) = run.schedule_id {
                tx.execute("UPDATE report_schedules SET next_run = $2 WHERE schedule_id = $1", &[&s, &next_run])?;
            }
            note(Change::new("report_run.create", "report_run", id.to_string()));
            Ok(id)
        })
    }

    fn set_report_notified(&self, run: i64, notified: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE report_runs SET notified = $2 WHERE run_id = $1", &[&run, &notified])?;
            note(Change::new("report_run.notify", "report_run", run.to_string()));
            Ok(())
        })
    }

    fn report_runs(&self, limit: usize) -> StoreResult<Vec<ReportRun>> {
        self.read(|tx| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM report_runs ORDER BY run_id DESC LIMIT $1");
            Ok(tx.query(&sql, &[&(limit as i64)])?.iter().map(run_row).collect())
        })
    }

    fn report_run(&self, id: i64) -> StoreResult<ReportRun> {
        self.read(|tx| {
            tx.query_opt(&format!("SELECT {RUN_COLUMNS} FROM report_runs WHERE run_id = $1"), &[&id])?
                .map(|r| run_row(&r))
                .ok_or_else(|| Error::not_found(format!("Scheduled report {id} not found")).into())
        })
    }
}
