//! [`ReportScheduleStore`] for SQLite (migration 19): rules in
//! `report_schedules`, the reports made in `report_runs`. Every change is
//! audited.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::report::{MAX_SCHEDULES, NewSchedule, ReportRun, ReportScheduleStore, Schedule};
use flotilla_core::Error;

const SCHEDULE_COLUMNS: &str =
    "schedule_id, name, every, query, family, webhook_url, secret, origin, created, created_by, next_run";
const RUN_COLUMNS: &str = "run_id, schedule_id, name, query, family, time, path, bytes, error, notified";

fn schedule_row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        id: r.get(0)?,
        name: r.get(1)?,
        every: r.get(2)?,
        query: r.get(3)?,
        family: r.get(4)?,
        webhook_url: r.get(5)?,
        secret: r.get(6)?,
        origin: r.get(7)?,
        created: r.get(8)?,
        created_by: r.get(9)?,
        next_run: r.get(10)?,
    })
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<ReportRun> {
    Ok(ReportRun {
        id: r.get(0)?,
        schedule_id: r.get(1)?,
        name: r.get(2)?,
        query: r.get(3)?,
        family: r.get(4)?,
        time: r.get(5)?,
        path: r.get(6)?,
        bytes: r.get(7)?,
        error: r.get(8)?,
        notified: r.get(9)?,
    })
}

fn get(tx: &Connection, id: i64) -> StoreResult<Schedule> {
    tx.query_row(&format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE schedule_id = ?1"), [id], schedule_row)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Report schedule {id} not found")).into())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn insert(tx: &Connection, s: &NewSchedule) -> StoreResult<i64> {
    let n: i64 = tx.query_row("SELECT count(*) FROM report_schedules", [], |r| r.get(0))?;
    if n >= MAX_SCHEDULES {
        return Err(Error::invalid(format!("at most {MAX_SCHEDULES} report schedules are kept")).into());
    }
    tx.execute(
        "INSERT INTO report_schedules (name, every, query, family, webhook_url, secret, origin, created, created_by, next_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![s.name, s.every, s.query, s.family, s.webhook_url, s.secret, s.origin, now_ms(), s.created_by, s.next_run],
    )?;
    Ok(tx.last_insert_rowid())
}

impl ReportScheduleStore for SqliteStore {
    fn create_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule> {
        self.write(|tx| {
            let taken: Option<i64> = tx
                .query_row("SELECT schedule_id FROM report_schedules WHERE name = ?1", [&s.name], |r| r.get(0))
                .optional()?;
            if taken.is_some() {
                return Err(Error::already_exists(format!("Report schedule '{}' already exists", s.name)).into());
            }
            let id = insert(tx, s)?;
            note(Change::new("report_schedule.create", "report_schedule", id.to_string()));
            get(tx, id)
        })
    }

    fn upsert_flag_schedule(&self, s: &NewSchedule) -> StoreResult<Schedule> {
        self.write(|tx| {
            let taken: Option<i64> = tx
                .query_row("SELECT schedule_id FROM report_schedules WHERE name = ?1", [&s.name], |r| r.get(0))
                .optional()?;
            let id = match taken {
                Some(id) => {
                    tx.execute(
                        "UPDATE report_schedules SET every = ?2, query = ?3, family = ?4, webhook_url = ?5, secret = ?6,
                           origin = ?7, next_run = min(next_run, ?8) WHERE schedule_id = ?1",
                        params![id, s.every, s.query, s.family, s.webhook_url, s.secret, s.origin, s.next_run],
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
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {SCHEDULE_COLUMNS} FROM report_schedules ORDER BY schedule_id LIMIT {MAX_SCHEDULES}"
            ))?;
            Ok(stmt.query_map([], schedule_row)?.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn get_schedule(&self, id: i64) -> StoreResult<Schedule> {
        self.read(|tx| get(tx, id))
    }

    fn delete_schedule(&self, id: i64) -> StoreResult<()> {
        self.write(|tx| {
            get(tx, id)?;
            tx.execute("DELETE FROM report_schedules WHERE schedule_id = ?1", [id])?;
            note(Change::new("report_schedule.delete", "report_schedule", id.to_string()));
            Ok(())
        })
    }

    fn due_schedules(&self, now: i64, limit: usize) -> StoreResult<Vec<Schedule>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE next_run <= ?1 ORDER BY next_run LIMIT ?2"
            ))?;
            Ok(stmt.query_map(params![now, limit as i64], schedule_row)?.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn record_report_run(&self, run: &ReportRun, next_run: i64) -> StoreResult<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO report_runs (schedule_id, name, query, family, time, path, bytes, error, notified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    run.schedule_id,
                    run.name,
                    run.query,
                    run.family,
                    run.time,
                    run.path,
                    run.bytes,
                    run.error,
                    run.notified
                ],
            )?;
            let id = tx.last_insert_rowid();
            if let Some(s) = run.schedule_id {
                tx.execute("UPDATE report_schedules SET next_run = ?2 WHERE schedule_id = ?1", params![s, next_run])?;
            }
            note(Change::new("report_run.create", "report_run", id.to_string()));
            Ok(id)
        })
    }

    fn set_report_notified(&self, run: i64, notified: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE report_runs SET notified = ?2 WHERE run_id = ?1", params![run, notified])?;
            note(Change::new("report_run.notify", "report_run", run.to_string()));
            Ok(())
        })
    }

    fn report_runs(&self, limit: usize) -> StoreResult<Vec<ReportRun>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM report_runs ORDER BY run_id DESC LIMIT ?1"))?;
            Ok(stmt.query_map([limit as i64], run_row)?.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn report_run(&self, id: i64) -> StoreResult<ReportRun> {
        self.read(|tx| {
            tx.query_row(&format!("SELECT {RUN_COLUMNS} FROM report_runs WHERE run_id = ?1"), [id], run_row)
                .optional()?
                .ok_or_else(|| Error::not_found(format!("Scheduled report {id} not found")).into())
        })
    }
}
