//! Garbage collection on SQLite: the plan is read in one snapshot, the purge
//! is one write that re-checks every row it deletes (see [`crate::gc`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::experiments::parse_id;
use crate::error::StoreResult;
use crate::gc::{GcExperiment, GcKept, GcLoggedModel, GcPlan, GcQuery, GcRun, GcStore};

/// A model version names the run directly, or names a logged model the run produced.
const RUN_REGISTERED: &str = "EXISTS (SELECT 1 FROM model_versions mv WHERE mv.run_id = r.run_uuid
       OR mv.model_id IN (SELECT lm.model_id FROM logged_models lm WHERE lm.source_run_id = r.run_uuid))";

impl GcStore for SqliteStore {
    fn gc_plan(&self, query: &GcQuery) -> StoreResult<GcPlan> {
        query.check_size()?;
        self.read(|tx| plan(tx, query))
    }

    fn gc_purge(&self, plan: &GcPlan) -> StoreResult<GcPlan> {
        self.write(|tx| {
            let mut done = GcPlan::default();
            for run in &plan.runs {
                let purged = tx.execute(
                    &format!(
                        "DELETE FROM runs AS r WHERE run_uuid = ?1 AND NOT {RUN_REGISTERED}
                           AND (lifecycle_stage = 'deleted' OR experiment_id IN
                                (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted'))"
                    ),
                    [&run.run_id],
                )?;
                if purged == 1 {
                    done.runs.push(run.clone());
                }
            }
            for experiment in &plan.experiments {
                let id = parse_id(&experiment.experiment_id)?;
                let still_deleted: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM experiments WHERE experiment_id = ? AND lifecycle_stage = 'deleted'",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?;
                // A run restored or registered since the plan keeps its experiment.
                let runs_left: i64 =
                    tx.query_row("SELECT count(*) FROM runs WHERE experiment_id = ?", [id], |r| r.get(0))?;
                if still_deleted.is_none() || runs_left > 0 || experiment_registered(tx, id)? {
                    continue;
                }
                tx.execute("DELETE FROM datasets WHERE experiment_id = ?", [id])?;
                tx.execute("DELETE FROM logged_models WHERE experiment_id = ?", [id])?;
                tx.execute("DELETE FROM experiments WHERE experiment_id = ?", [id])?;
                super::auth::drop_grants(tx, crate::auth::EXPERIMENT, &experiment.experiment_id)?;
                done.experiments.push(experiment.clone());
            }
            done.finish_purge(plan);
            Ok(done)
        })
    }

    fn experiment_locations(&self) -> StoreResult<Vec<String>> {
        self.read(locations)
    }
}

fn locations(tx: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = tx.prepare("SELECT DISTINCT artifact_location FROM experiments")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn plan(tx: &Connection, query: &GcQuery) -> StoreResult<GcPlan> {
    let cutoff = query.deleted_before_ms.unwrap_or(i64::MAX);
    let mut out = GcPlan::default();
    for id in &query.experiment_ids {
        let key = parse_id(id)?;
        let stage: Option<String> = tx
            .query_row("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", [key], |r| r.get(0))
            .optional()?;
        crate::gc::require_deleted("Experiment", id, stage.as_deref())?;
    }
    for id in &query.run_ids {
        let stage: Option<String> =
            tx.query_row("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", [id], |r| r.get(0)).optional()?;
        crate::gc::require_deleted("Run", id, stage.as_deref())?;
    }
    let everything = query.experiment_ids.is_empty() && query.run_ids.is_empty();

    // Experiments first: their runs go with them unless something is registered from one.
    let mut experiments = tx.prepare(
        "SELECT experiment_id, name, artifact_location FROM experiments
         WHERE lifecycle_stage = 'deleted' AND last_update_time <= ?1 ORDER BY experiment_id",
    )?;
    let rows = experiments.query_map([cutoff], |r| {
        Ok(GcExperiment {
            experiment_id: r.get::<_, i64>(0)?.to_string(),
            name: r.get(1)?,
            artifact_location: r.get(2)?,
        })
    })?;
    for e in rows {
        let e = e?;
        if !everything && !query.experiment_ids.contains(&e.experiment_id) {
            continue;
        }
        let id = parse_id(&e.experiment_id)?;
        if experiment_registered(tx, id)? {
            out.kept.push(GcKept::experiment(&e.experiment_id));
            continue;
        }
        out.runs.extend(runs_where(tx, "r.experiment_id = ?1", params![id])?);
        let mut models =
            tx.prepare_cached("SELECT model_id, artifact_uri FROM logged_models WHERE experiment_id = ?")?;
        for m in models.query_map([id], |r| {
            Ok(GcLoggedModel { model_id: r.get(0)?, experiment_id: e.experiment_id.clone(), artifact_uri: r.get(1)? })
        })? {
            out.logged_models.push(m?);
        }
        out.experiments.push(e);
    }

    // Then runs deleted on their own.
    let mut deleted = tx.prepare(&format!(
        "SELECT r.run_uuid, r.experiment_id, r.artifact_uri, {RUN_REGISTERED} FROM runs r
         WHERE r.lifecycle_stage = 'deleted' AND COALESCE(r.deleted_time, 0) <= ?1 ORDER BY r.run_key"
    ))?;
    let rows = deleted.query_map([cutoff], |r| {
        Ok((
            GcRun { run_id: r.get(0)?, experiment_id: r.get::<_, i64>(1)?.to_string(), artifact_uri: r.get(2)? },
            r.get::<_, bool>(3)?,
        ))
    })?;
    for row in rows {
        let (run, registered) = row?;
        let named = everything || query.run_ids.contains(&run.run_id);
        if !named || out.runs.iter().any(|r| r.run_id == run.run_id) {
            continue;
        }
        if registered {
            out.kept.push(GcKept::run(run.run_id));
        } else {
            out.runs.push(run);
        }
    }
    Ok(out)
}

/// The unregistered runs matching `clause` (on `runs r`).
fn runs_where(tx: &Connection, clause: &str, args: impl rusqlite::Params) -> StoreResult<Vec<GcRun>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT r.run_uuid, r.experiment_id, r.artifact_uri FROM runs r WHERE {clause} AND NOT {RUN_REGISTERED}
         ORDER BY r.run_key"
    ))?;
    let rows = stmt.query_map(args, |r| {
        Ok(GcRun { run_id: r.get(0)?, experiment_id: r.get::<_, i64>(1)?.to_string(), artifact_uri: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a model version was registered from one of the experiment's runs or logged models.
fn experiment_registered(tx: &Connection, id: i64) -> StoreResult<bool> {
    Ok(tx.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = ?1 AND {RUN_REGISTERED})
                 OR EXISTS (SELECT 1 FROM model_versions mv JOIN logged_models lm ON lm.model_id = mv.model_id
                            WHERE lm.experiment_id = ?1)"
        ),
        [id],
        |r| r.get(0),
    )?)
}
