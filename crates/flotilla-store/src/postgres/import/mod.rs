//! [`ImportStore`] on PostgreSQL: SQLite's import (`sqlite/import/`) with
//! PostgreSQL's SQL, through the same derived-table helpers this backend's
//! own writes use; each call one (retried) write transaction, one audit event.

use flotilla_core::VersionNumber;
use flotilla_core::model::{Experiment, ModelVersion, RegisteredModel};

use super::PgStore;
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::import::{ImportStore, ImportedAlias, ImportedLoggedModel, ImportedRun, Outcome, RunOutcome};

mod registry;
mod tracking;

fn audit(kind: &str, inserted: usize) {
    note(Change::new(&format!("import.{kind}"), "import", "mlflow").count(inserted));
}

fn inserted(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| matches!(o, Outcome::Inserted)).count()
}

impl ImportStore for PgStore {
    fn import_experiments(&self, items: &[Experiment]) -> StoreResult<Vec<Outcome>> {
        self.write(|tx| {
            let out = items.iter().map(|e| tracking::experiment(tx, e)).collect::<StoreResult<Vec<_>>>()?;
            audit("experiments", inserted(&out));
            Ok(out)
        })
    }

    fn import_runs(&self, items: &[ImportedRun]) -> StoreResult<Vec<RunOutcome>> {
        self.write(|tx| {
            let out = items.iter().map(|r| tracking::run(tx, r)).collect::<StoreResult<Vec<_>>>()?;
            audit("runs", out.iter().filter(|r| matches!(r.outcome, Outcome::Inserted)).count());
            Ok(out)
        })
    }

    fn import_logged_models(&self, items: &[ImportedLoggedModel]) -> StoreResult<Vec<Outcome>> {
        self.write(|tx| {
            let out = items.iter().map(|m| tracking::logged_model(tx, m)).collect::<StoreResult<Vec<_>>>()?;
            audit("logged_models", inserted(&out));
            Ok(out)
        })
    }

    fn import_registered_models(&self, items: &[RegisteredModel]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|m| registry::model(tx, m)).collect::<StoreResult<Vec<_>>>()?;
            audit("registered_models", inserted(&out));
            Ok(out)
        })
    }

    fn import_model_versions(&self, items: &[ModelVersion]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|v| registry::version(tx, v)).collect::<StoreResult<Vec<_>>>()?;
            audit("model_versions", inserted(&out));
            Ok(out)
        })
    }

    fn import_aliases(&self, items: &[ImportedAlias]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|a| registry::alias(tx, a)).collect::<StoreResult<Vec<_>>>()?;
            audit("aliases", inserted(&out));
            Ok(out)
        })
    }

    fn reserve_versions(&self, highest: &[(String, VersionNumber)]) -> StoreResult<()> {
        self.write(|tx| {
            for (model, number) in highest {
                tx.execute(
                    "UPDATE registered_models SET next_version = GREATEST(next_version, $1::BIGINT + 1) WHERE name = $2",
                    &[&i64::from(*number), model],
                )?;
            }
            Ok(())
        })
    }

    fn join_family(&self, model: &str, family: &str, partition: &[(String, String)]) -> StoreResult<Outcome> {
        self.write_registry(|tx| {
            let out = registry::join_family(tx, model, family, partition)?;
            audit("family_members", usize::from(matches!(out, Outcome::Inserted)));
            Ok(out)
        })
    }
}
