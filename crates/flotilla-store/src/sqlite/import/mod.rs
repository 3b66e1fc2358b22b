//! [`ImportStore`] on SQLite: another store's entities written with their
//! ids (tracking in `tracking.rs`, the registry in `registry.rs`), each call
//! one write transaction audited as one event.
//!
//! The writes go through the same helpers the store's own writes use for
//! what is derived (latest metrics, dataset entities and usages, the name
//! order, version metrics); the rest (facet and report counters, lineage
//! edges) is kept by the triggers, so an imported store reads as one filled
//! through the API.

use flotilla_core::VersionNumber;
use flotilla_core::model::{Experiment, ModelVersion, RegisteredModel};

use super::SqliteStore;
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::import::{ImportStore, ImportedAlias, ImportedLoggedModel, ImportedRun, Outcome, RunOutcome};

mod family;
mod registry;
mod tracking;

/// Notes the audit event of one import call: its kind and how many entities it wrote.
fn audit(kind: &str, outcomes: impl Iterator<Item = bool>) {
    let inserted = outcomes.filter(|inserted| *inserted).count();
    note(Change::new(&format!("import.{kind}"), "import", "mlflow").count(inserted));
}

fn inserted(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Inserted)
}

impl ImportStore for SqliteStore {
    fn import_experiments(&self, items: &[Experiment]) -> StoreResult<Vec<Outcome>> {
        self.write(|tx| {
            let out = items.iter().map(|e| tracking::experiment(tx, e)).collect::<StoreResult<Vec<_>>>()?;
            audit("experiments", out.iter().map(inserted));
            Ok(out)
        })
    }

    fn import_runs(&self, items: &[ImportedRun]) -> StoreResult<Vec<RunOutcome>> {
        self.write(|tx| {
            let out = items.iter().map(|r| tracking::run(tx, r)).collect::<StoreResult<Vec<_>>>()?;
            audit("runs", out.iter().map(|r| inserted(&r.outcome)));
            Ok(out)
        })
    }

    fn import_logged_models(&self, items: &[ImportedLoggedModel]) -> StoreResult<Vec<Outcome>> {
        self.write(|tx| {
            let out = items.iter().map(|m| tracking::logged_model(tx, m)).collect::<StoreResult<Vec<_>>>()?;
            audit("logged_models", out.iter().map(inserted));
            Ok(out)
        })
    }

    fn import_registered_models(&self, items: &[RegisteredModel]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|m| registry::model(tx, m)).collect::<StoreResult<Vec<_>>>()?;
            audit("registered_models", out.iter().map(inserted));
            Ok(out)
        })
    }

    fn import_model_versions(&self, items: &[ModelVersion]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|v| registry::version(tx, v)).collect::<StoreResult<Vec<_>>>()?;
            audit("model_versions", out.iter().map(inserted));
            Ok(out)
        })
    }

    fn join_family(&self, model: &str, family: &str, partition: &[(String, String)]) -> StoreResult<Outcome> {
        self.write_registry(|tx| {
            let out = family::join(tx, model, family, partition)?;
            audit("family_members", std::iter::once(inserted(&out)));
            Ok(out)
        })
    }

    fn reserve_versions(&self, highest: &[(String, VersionNumber)]) -> StoreResult<()> {
        self.write(|tx| {
            let mut reserve = tx.prepare_cached(
                "UPDATE registered_models SET next_version = max(next_version, ?1 + 1) WHERE name = ?2",
            )?;
            for (model, number) in highest {
                reserve.execute(rusqlite::params![i64::from(*number), model])?;
            }
            Ok(())
        })
    }

    fn import_aliases(&self, items: &[ImportedAlias]) -> StoreResult<Vec<Outcome>> {
        self.write_registry(|tx| {
            let out = items.iter().map(|a| registry::alias(tx, a)).collect::<StoreResult<Vec<_>>>()?;
            audit("aliases", out.iter().map(inserted));
            Ok(out)
        })
    }
}
