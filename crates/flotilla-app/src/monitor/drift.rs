//! Drift against a version's reference (issue 15, point 3): which
//! reference (an explicit baseline of the model, else the training
//! dataset's profile found through lineage), a family's drift settings
//! (Evidently's defaults unless set), and the drift answer over a range of
//! telemetry windows merged into one.

use std::sync::Arc;

use flotilla_core::{Error, ErrorKind, VersionNumber};
use flotilla_drift::{DriftConfig, Reference};
use flotilla_profile::Profile;
use flotilla_store::health::Baseline;
use flotilla_store::monitor::VersionFacts;
use flotilla_store::{Readable, Store, StoreResult};

/// Where a reference came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSource {
    /// The model's explicit dataset baseline.
    Baseline { dataset: String, digest: String },
    /// The training dataset, through lineage.
    Training { dataset: String, digest: String },
}

/// A version's reference, prepared.
#[derive(Debug, Clone)]
pub struct VersionReference {
    pub reference: Arc<Reference>,
    pub source: ReferenceSource,
}

/// A config must be usable: thresholds and shares in range.
pub fn check_config(c: &DriftConfig) -> Result<(), Error> {
    let unit = |v: f64, what: &str| {
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(Error::invalid(format!("'{what}' must be between 0 and 1, got {v}")))
        }
    };
    unit(c.p_value, "p_value")?;
    unit(c.drift_share, "drift_share")?;
    unit(c.completeness_tolerance, "completeness_tolerance")?;
    unit(c.new_category_share, "new_category_share")?;
    for (v, what) in [(c.wasserstein, "wasserstein"), (c.jensen_shannon, "jensen_shannon")] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::invalid(format!("'{what}' must be a positive number, got {v}")));
        }
    }
    Ok(())
}

/// Sets a model's baseline, checked: a dataset must have a profile, a
/// traffic range's version must exist.
pub fn set_baseline(store: &dyn Store, model: &str, baseline: Option<&Baseline>) -> StoreResult<()> {
    match baseline {
        Some(Baseline::Dataset { name, digest }) if store.dataset_profile(name, digest)?.is_none() => {
            return Err(Error::invalid(format!(
                "Dataset '{name}' with digest '{digest}' has no profile to be a baseline; upload one first"
            ))
            .into());
        }
        Some(Baseline::Dataset { .. }) => {}
        Some(Baseline::Traffic { version, .. }) => {
            store.get_version(model, *version)?;
        }
        None => {}
    }
    store.set_baseline(model, baseline)
}

/// The drift settings of a model's family (the defaults for a model in none).
pub fn config_of(store: &dyn Store, family: Option<&str>) -> StoreResult<DriftConfig> {
    let Some(family) = family else { return Ok(DriftConfig::default()) };
    Ok(store.drift_config(family)?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

fn prepared(store: &dyn Store, name: &str, digest: &str) -> StoreResult<Option<Arc<Reference>>> {
    let Some(kept) = store.dataset_profile(name, digest)? else { return Ok(None) };
    match Profile::from_bytes(&kept.bytes) {
        Ok(p) => Ok(Some(Arc::new(Reference::from_profile(&p)))),
        Err(e) => {
            tracing::warn!(dataset = name, digest, error = %e, "a kept profile does not read");
            Ok(None)
        }
    }
}

/// A version's reference: the model's dataset baseline if set, else the
/// profile of its training dataset (context `training` first, else any
/// upstream dataset with a profile). `None` when it has none.
pub fn reference_of(store: &dyn Store, model: &str, version: VersionNumber) -> StoreResult<Option<VersionReference>> {
    if let Some(Baseline::Dataset { name, digest }) = store.baseline(model)?
        && let Some(reference) = prepared(store, &name, &digest)?
    {
        return Ok(Some(VersionReference { reference, source: ReferenceSource::Baseline { dataset: name, digest } }));
    }
    let upstream = match store.upstream(model, version, &Readable::everything()) {
        Ok(u) => u,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut datasets = upstream.datasets;
    datasets.sort_by_key(|d| d.context.as_deref() != Some("training"));
    for d in datasets.iter().take(16) {
        if let Some(reference) = prepared(store, &d.name, &d.digest)? {
            return Ok(Some(VersionReference {
                reference,
                source: ReferenceSource::Training { dataset: d.name.clone(), digest: d.digest.clone() },
            }));
        }
    }
    Ok(None)
}

/// References and drift settings read once per job: prepared references by
/// dataset (a calendar shared by 100,000 models is decoded once), each
/// version's by its key, and each family's settings. Bounded: past
/// [`ReferenceCache::CAPACITY`] entries a map starts over.
#[derive(Default)]
pub struct ReferenceCache {
    by_dataset: std::collections::HashMap<(String, String), Option<Arc<Reference>>>,
    configs: std::collections::HashMap<String, DriftConfig>,
}

impl ReferenceCache {
    pub const CAPACITY: usize = 4096;

    /// As [`reference_of`], with the prepared profiles cached.
    pub fn get(
        &mut self,
        store: &dyn Store,
        model: &str,
        version: VersionNumber,
    ) -> StoreResult<Option<VersionReference>> {
        if self.by_dataset.len() >= Self::CAPACITY {
            self.by_dataset.clear();
        }
        let mut candidates: Vec<(String, String, bool)> = Vec::new();
        if let Some(Baseline::Dataset { name, digest }) = store.baseline(model)? {
            candidates.push((name, digest, true));
        }
        match store.upstream(model, version, &Readable::everything()) {
            Ok(u) => {
                let mut datasets = u.datasets;
                datasets.sort_by_key(|d| d.context.as_deref() != Some("training"));
                candidates.extend(datasets.into_iter().take(16).map(|d| (d.name, d.digest, false)));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        for (name, digest, baseline) in candidates {
            let key = (name, digest);
            let reference = match self.by_dataset.get(&key) {
                Some(r) => r.clone(),
                None => {
                    let r = prepared(store, &key.0, &key.1)?;
                    self.by_dataset.insert(key.clone(), r.clone());
                    r
                }
            };
            if let Some(reference) = reference {
                let (dataset, digest) = key;
                let source = if baseline {
                    ReferenceSource::Baseline { dataset, digest }
                } else {
                    ReferenceSource::Training { dataset, digest }
                };
                return Ok(Some(VersionReference { reference, source }));
            }
        }
        Ok(None)
    }

    /// As [`ReferenceCache::get`], from a version's facts read in a batch
    /// (`MonitorStore::version_facts`): only datasets that keep a profile
    /// are read, each once per job.
    pub fn from_facts(&mut self, store: &dyn Store, facts: &VersionFacts) -> StoreResult<Option<VersionReference>> {
        if self.by_dataset.len() >= Self::CAPACITY {
            self.by_dataset.clear();
        }
        let baseline = match &facts.baseline {
            Some(Baseline::Dataset { name, digest }) => Some((name.clone(), digest.clone(), true)),
            Some(Baseline::Traffic { .. }) | None => None,
        };
        let upstream = facts.datasets.iter().filter(|d| d.profiled).map(|d| (d.name.clone(), d.digest.clone(), false));
        for (name, digest, is_baseline) in baseline.into_iter().chain(upstream) {
            let key = (name, digest);
            let reference = match self.by_dataset.get(&key) {
                Some(r) => r.clone(),
                None => {
                    let r = prepared(store, &key.0, &key.1)?;
                    self.by_dataset.insert(key.clone(), r.clone());
                    r
                }
            };
            if let Some(reference) = reference {
                let (dataset, digest) = key;
                let source = if is_baseline {
                    ReferenceSource::Baseline { dataset, digest }
                } else {
                    ReferenceSource::Training { dataset, digest }
                };
                return Ok(Some(VersionReference { reference, source }));
            }
        }
        Ok(None)
    }

    /// A family's drift settings, read once.
    pub fn config(&mut self, store: &dyn Store, family: Option<&str>) -> StoreResult<DriftConfig> {
        let Some(f) = family else { return Ok(DriftConfig::default()) };
        if let Some(c) = self.configs.get(f) {
            return Ok(c.clone());
        }
        let c = config_of(store, Some(f))?;
        if self.configs.len() < Self::CAPACITY {
            self.configs.insert(f.to_string(), c.clone());
        }
        Ok(c)
    }
}
