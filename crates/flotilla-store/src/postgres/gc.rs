//! Garbage collection on PostgreSQL (as `sqlite/gc.rs`): the plan is read in
//! one snapshot, the purge is one SERIALIZABLE write that re-checks every row
//! it deletes (see [`crate::gc`]).

use super::experiments::parse_id;
use super::{PgStore, Tx, auth};
use crate::error::StoreResult;
use crate::gc::{GcExperiment, GcKept, GcLoggedModel, GcPlan, GcQuery, GcRun, GcStore};

/// A model version names the run directly, or names a logged model the run produced.
const RUN_REGISTERED: &str = "EXISTS (SELECT 1 FROM model_versions mv WHERE mv.run_id = r.run_uuid
       OR mv.model_id IN (SELECT lm.model_id FROM logged_models lm WHERE lm.source_run_id = r.run_uuid))";

impl GcStore for PgStore {
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
                        "DELETE FROM runs AS r WHERE run_uuid = $1 AND NOT {RUN_REGISTERED}
                           AND (lifecycle_stage = 'deleted' OR experiment_id IN
                                (SELECT experiment_id FROM experiments WHERE lifecycle_stage = 'deleted'))"
                    ),
                    &[&run.run_id],
                )?;
                if purged == 1 {
                    done.runs.push(run.clone());
                }
            }
            for experiment in &plan.experiments {
                let id = parse_id(&experiment.experiment_id)?;
                let still_deleted = tx
                    .query_opt(
                        "SELECT 1 FROM experiments WHERE experiment_id = $1 AND lifecycle_stage = 'deleted'",
                        &[&id],
                    )?
                    .is_some();
                // A run restored or registered since the plan keeps its experiment.
                let runs_left: i64 = tx.query_one("SELECT count(*) FROM runs WHERE experiment_id = $1", &[&id])?.get(0);
                if !still_deleted || runs_left > 0 || experiment_registered(tx, id)? {
                    continue;
                }
                tx.execute("DELETE FROM datasets WHERE experiment_id = $1", &[&id])?;
                tx.execute("DELETE FROM logged_models WHERE experiment_id = $1", &[&id])?;
                tx.execute("DELETE FROM experiments WHERE experiment_id = $1", &[&id])?;
                auth::drop_grants(tx, crate::auth::EXPERIMENT, &experiment.experiment_id)?;
                done.experiments.push(experiment.clone());
            }
            done.finish_purge(plan);
            Ok(done)
        })
    }

    fn experiment_locations(&self) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let rows = tx.query("SELECT DISTINCT artifact_location FROM experiments", &[])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}

fn plan(tx: &mut Tx<'_>, query: &GcQuery) -> StoreResult<GcPlan> {
    let cutoff = query.deleted_before_ms.unwrap_or(i64::MAX);
    let mut out = GcPlan::default();
    for id in &query.experiment_ids {
        let key = parse_id(id)?;
        let stage = tx
            .query_opt("SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1", &[&key])?
            .map(|r| r.get::<_, String>(0));
        crate::gc::require_deleted("Experiment", id, stage.as_deref())?;
    }
    for id in &query.run_ids {
        let stage =
            tx.query_opt("SELECT lifecycle_stage FROM runs WHERE run_uuid = $1", &[id])?.map(|r| r.get::<_, String>(0));
        crate::gc::require_deleted("Run", id, stage.as_deref())?;
    }
    let everything = query.experiment_ids.is_empty() && query.run_ids.is_empty();

    // Experiments first: their runs go with them unless something is registered from one.
    let experiments = tx.query(
        "SELECT experiment_id, name, artifact_location FROM experiments
         WHERE lifecycle_stage = 'deleted' AND last_update_time <= $1 ORDER BY experiment_id",
        &[&cutoff],
    )?;
    for row in experiments {
        let id: i64 = row.get(0);
        let e = GcExperiment { experiment_id: id.to_string(), name: row.get(1), artifact_location: row.get(2) };
        if !everything && !query.experiment_ids.contains(&e.experiment_id) {
            continue;
        }
        if experiment_registered(tx, id)? {
            out.kept.push(GcKept::experiment(&e.experiment_id));
            continue;
        }
        let runs = tx.query(
            &format!(
                "SELECT r.run_uuid, r.artifact_uri FROM runs r WHERE r.experiment_id = $1 AND NOT {RUN_REGISTERED}
                 ORDER BY r.run_key"
            ),
            &[&id],
        )?;
        out.runs.extend(runs.iter().map(|r| GcRun {
            run_id: r.get(0),
            experiment_id: e.experiment_id.clone(),
            artifact_uri: r.get(1),
        }));
        let models = tx.query("SELECT model_id, artifact_uri FROM logged_models WHERE experiment_id = $1", &[&id])?;
        out.logged_models.extend(models.iter().map(|m| GcLoggedModel {
            model_id: m.get(0),
            experiment_id: e.experiment_id.clone(),
            artifact_uri: m.get(1),
        }));
        out.experiments.push(e);
    }

    // Then runs deleted on their own.
    let deleted = tx.query(
        &format!(
            "SELECT r.run_uuid, r.experiment_id, r.artifact_uri, {RUN_REGISTERED} FROM runs r
             WHERE r.lifecycle_stage = 'deleted' AND COALESCE(r.deleted_time, 0) <= $1 ORDER BY r.run_key"
        ),
        &[&cutoff],
    )?;
    for row in deleted {
        let run =
            GcRun { run_id: row.get(0), experiment_id: row.get::<_, i64>(1).to_string(), artifact_uri: row.get(2) };
        let registered: bool = row.get(3);
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

/// Whether a model version was registered from one of the experiment's runs or logged models.
fn experiment_registered(tx: &mut Tx<'_>, experiment_id: i64) -> StoreResult<bool> {
    let row = tx.query_one(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM runs r WHERE r.experiment_id = $1 AND {RUN_REGISTERED})
                 OR EXISTS (SELECT 1 FROM model_versions mv JOIN logged_models lm ON lm.model_id = mv.model_id
                            WHERE lm.experiment_id = $1)"
        ),
        &[&experiment_id],
    )?;
    Ok(row.get(0))
}
