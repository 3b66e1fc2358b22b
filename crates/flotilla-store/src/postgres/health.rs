//! Fleet health on PostgreSQL (as `sqlite/health.rs`): a family's drift
//! settings and a model's explicit baseline are ported; the health records,
//! roll-ups and history are not yet (each answers "... is not yet available").

use super::{PgStore, families, registry, unported};
use crate::audit::{Change, note};
use crate::error::StoreResult;
use crate::health::*;
use crate::query::Visible;
use crate::sqlite::now_ms;
use flotilla_core::VersionNumber;
use flotilla_core::model::Page;

const AREA: &str = "Fleet health";

impl crate::health::HealthStore for PgStore {
    fn record_health(&self, _updates: &[HealthUpdate], _window_end: i64) -> StoreResult<usize> {
        Err(unported(AREA))
    }

    fn health_counts(&self, _scope: &HealthScope, _visible: &Visible) -> StoreResult<HealthCounts> {
        Err(unported(AREA))
    }

    fn worst_models(&self, _query: &WorstQuery) -> StoreResult<Page<WorstModel>> {
        Err(unported(AREA))
    }

    fn model_health(&self, _model: &str) -> StoreResult<Vec<CheckResult>> {
        Err(unported(AREA))
    }

    fn snapshot_health(&self, _hour: i64) -> StoreResult<usize> {
        Err(unported(AREA))
    }

    fn health_history(
        &self,
        _scope: &HealthScope,
        _from: i64,
        _to: i64,
        _limit: usize,
    ) -> StoreResult<Vec<HistoryPoint>> {
        Err(unported(AREA))
    }

    fn drift_config(&self, family: &str) -> StoreResult<Option<String>> {
        self.read(|tx| {
            let id = families::family(tx, family)?.id;
            Ok(tx.query_opt("SELECT config FROM family_drift_config WHERE family_id = $1", &[&id])?.map(|r| r.get(0)))
        })
    }

    fn set_drift_config(&self, family: &str, config: &str) -> StoreResult<()> {
        self.write(|tx| {
            let id = families::family(tx, family)?.id;
            tx.execute(
                "INSERT INTO family_drift_config (family_id, config, updated) VALUES ($1, $2, $3) \
                 ON CONFLICT (family_id) DO UPDATE SET config = excluded.config, updated = excluded.updated",
                &[&id, &config, &now_ms()],
            )?;
            let after = serde_json::from_str(config).ok();
            note(Change::new("family.set_drift_config", "family", family).diff(None, after));
            Ok(())
        })
    }

    fn baseline(&self, model: &str) -> StoreResult<Option<Baseline>> {
        self.read(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            let row = tx.query_opt(
                "SELECT kind, dataset_name, digest, version, from_ms, to_ms FROM model_baselines WHERE rm_id = $1",
                &[&rm_id],
            )?;
            Ok(row.and_then(|r| {
                let (kind, name, digest): (String, Option<String>, Option<String>) = (r.get(0), r.get(1), r.get(2));
                match (kind.as_str(), name, digest) {
                    ("dataset", Some(name), Some(digest)) => Some(Baseline::Dataset { name, digest }),
                    _ => Some(Baseline::Traffic {
                        version: VersionNumber::new(r.get::<_, Option<i64>>(3).unwrap_or(1))?,
                        from: r.get::<_, Option<i64>>(4).unwrap_or(0),
                        to: r.get::<_, Option<i64>>(5).unwrap_or(0),
                    }),
                }
            }))
        })
    }

    fn set_baseline(&self, model: &str, baseline: Option<&Baseline>) -> StoreResult<()> {
        self.write(|tx| {
            let rm_id = registry::rm_id(tx, model)?;
            tx.execute("DELETE FROM model_baselines WHERE rm_id = $1", &[&rm_id])?;
            match baseline {
                None => {}
                Some(Baseline::Dataset { name, digest }) => {
                    tx.execute(
                        "INSERT INTO model_baselines (rm_id, kind, dataset_name, digest, updated) \
                         VALUES ($1, 'dataset', $2, $3, $4)",
                        &[&rm_id, name, digest, &now_ms()],
                    )?;
                }
                Some(Baseline::Traffic { version, from, to }) => {
                    tx.execute(
                        "INSERT INTO model_baselines (rm_id, kind, version, from_ms, to_ms, updated) \
                         VALUES ($1, 'traffic', $2, $3, $4, $5)",
                        &[&rm_id, &version.get(), from, to, &now_ms()],
                    )?;
                }
            }
            note(Change::new("registered_model.set_baseline", "registered_model", model));
            Ok(())
        })
    }
}
