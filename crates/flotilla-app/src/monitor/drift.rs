//! Drift against a version's reference (issue 15, point 3): which
//! reference (an explicit baseline of the model — a dataset, or a past
//! range of a version's traffic — else the training dataset's profile found
//! through lineage), a family's drift settings (Evidently's defaults unless
//! set), and the drift answer over a range of telemetry windows merged into
//! one.
//!
//! A traffic baseline does not replace the bins: windows are binned against
//! the training profile, so the baseline is that version's windows over its
//! range, of the training profile's fingerprint, merged into one window that
//! the current one is judged against (`flotilla_drift::baseline_drift`).

use std::collections::HashMap;
use std::sync::Arc;

use flotilla_core::{Error, ErrorKind, VersionNumber};
use flotilla_drift::{DatasetDrift, DriftConfig, DriftError, Reference, Window, baseline_drift, window_drift};
use flotilla_profile::Profile;
use flotilla_store::health::Baseline;
use flotilla_store::monitor::{DAY_MS, Grain, HOUR_MS, VersionFacts, WindowQuery, WindowRow};
use flotilla_store::{Readable, Store, StoreResult};

use super::telemetry::stats::WindowStats;

/// Where a reference came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSource {
    /// The model's explicit dataset baseline.
    Baseline { dataset: String, digest: String },
    /// The training dataset, through lineage.
    Training { dataset: String, digest: String },
    /// The model's explicit traffic baseline: `version`'s traffic over
    /// `[from, to)` (`windows` of it, `rows` rows), binned against the
    /// training dataset's profile.
    Traffic { version: VersionNumber, from: i64, to: i64, windows: usize, rows: u64, dataset: String, digest: String },
}

/// A version's reference, prepared.
#[derive(Debug, Clone)]
pub struct VersionReference {
    /// The profile windows are binned against.
    pub reference: Arc<Reference>,
    pub source: ReferenceSource,
    /// A traffic baseline's windows merged: what drift is judged against
    /// (the reference then only supplies the bins).
    pub baseline: Option<Arc<Window>>,
}

impl VersionReference {
    /// A window's drift against the baseline traffic if there is one, else
    /// against the reference.
    pub fn judge(&self, window: &Window, config: &DriftConfig) -> Result<DatasetDrift, DriftError> {
        match &self.baseline {
            Some(baseline) => baseline_drift(&self.reference, baseline, window, config),
            None => window_drift(&self.reference, window, config),
        }
    }
}

/// Why a version has no reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Neither a dataset baseline nor an upstream dataset keeps a profile.
    NoProfile,
    /// A traffic baseline whose range has no windows with drift counts
    /// binned against the version's training profile.
    NoBaselineTraffic,
}

impl Missing {
    pub fn reason(self) -> &'static str {
        match self {
            Missing::NoProfile => "no profile: neither a dataset baseline nor a training dataset that keeps one",
            Missing::NoBaselineTraffic => {
                "the traffic baseline's range has no windows with drift counts binned against the training profile"
            }
        }
    }
}

/// A range's windows of one reference's fingerprint, their drift counts merged.
#[derive(Debug, Clone, Default)]
pub struct MergedDrift {
    pub window: Option<Window>,
    /// Windows merged, and their rows.
    pub windows: usize,
    pub rows: u64,
}

/// Merges the drift counts of the rows binned against `fingerprint`
/// (others, and rows without drift counts, are left out).
pub fn merged_drift(rows: &[WindowRow], fingerprint: u64) -> MergedDrift {
    let mut out = MergedDrift::default();
    for w in rows.iter().filter(|w| w.fingerprint == Some(fingerprint)) {
        let Ok(WindowStats { drift: Some(d), .. }) = WindowStats::from_bytes(&w.stats) else { continue };
        let merged = match &mut out.window {
            None => {
                out.window = Some(d);
                true
            }
            Some(m) => m.merge(&d).is_ok(),
        };
        if merged {
            out.windows += 1;
            out.rows += w.rows;
        }
    }
    out
}

/// `[from, to)` tiled by the coarsest windows that fit: whole days, the
/// whole hours around them, base windows at the ends (at most five reads;
/// base windows are kept 2 days, hours 30, so an old range's ends that are
/// not on the hour are lost, at most an hour each).
pub fn tiles(from: i64, to: i64) -> Vec<(Grain, i64, i64)> {
    let up = |t: i64, unit: i64| t.div_euclid(unit) * unit + if t.rem_euclid(unit) == 0 { 0 } else { unit };
    let down = |t: i64, unit: i64| t.div_euclid(unit) * unit;
    let mut out = Vec::with_capacity(5);
    let (h0, h1) = (up(from, HOUR_MS), down(to, HOUR_MS));
    if h0 >= h1 {
        out.push((Grain::Base, from, to));
        return out;
    }
    let (d0, d1) = (up(from, DAY_MS), down(to, DAY_MS));
    out.push((Grain::Base, from, h0));
    if d0 < d1 {
        out.extend([(Grain::Hour, h0, d0), (Grain::Day, d0, d1), (Grain::Hour, d1, h1)]);
    } else {
        out.push((Grain::Hour, h0, h1));
    }
    out.push((Grain::Base, h1, to));
    out.retain(|&(_, a, b)| a < b);
    out
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
/// upstream dataset with a profile); with a traffic baseline, that
/// version's traffic over its range too. Or why it has none.
pub fn reference_of(
    store: &dyn Store,
    model: &str,
    version: VersionNumber,
) -> StoreResult<Result<VersionReference, Missing>> {
    ReferenceCache::default().lookup(store, model, version)
}

/// The profile a version's traffic is binned against: as [`reference_of`]
/// without reading a traffic baseline (serving bins; the judging reads it).
pub fn binning_reference(
    store: &dyn Store,
    model: &str,
    version: VersionNumber,
) -> StoreResult<Option<Arc<Reference>>> {
    let baseline = store.baseline(model)?;
    let upstream = upstream_datasets(store, model, version)?;
    Ok(ReferenceCache::default().bins(store, baseline.as_ref(), upstream)?.map(|(r, _)| r))
}

/// A version's upstream datasets, training ones first (at most 16).
fn upstream_datasets(store: &dyn Store, model: &str, version: VersionNumber) -> StoreResult<Vec<(String, String)>> {
    match store.upstream(model, version, &Readable::everything()) {
        Ok(u) => {
            let mut datasets = u.datasets;
            datasets.sort_by_key(|d| d.context.as_deref() != Some("training"));
            Ok(datasets.into_iter().take(16).map(|d| (d.name, d.digest)).collect())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A traffic baseline's windows, read once: the model, the version, the
/// range and the fingerprint they are merged for.
type TrafficKey = (String, VersionNumber, i64, i64, u64);

/// References and drift settings read once per job: prepared references by
/// dataset (a calendar shared by 100,000 models is decoded once), traffic
/// baselines by model and range (each read once however many of the
/// model's versions are judged), and each family's settings. Bounded: past
/// [`ReferenceCache::CAPACITY`] entries a map starts over.
#[derive(Default)]
pub struct ReferenceCache {
    by_dataset: HashMap<(String, String), Option<Arc<Reference>>>,
    traffic: HashMap<TrafficKey, Option<(Arc<Window>, usize, u64)>>,
    configs: HashMap<String, DriftConfig>,
}

impl ReferenceCache {
    pub const CAPACITY: usize = 4096;

    /// As [`reference_of`], with the prepared profiles and baselines cached;
    /// `None` when the version has no reference.
    pub fn get(
        &mut self,
        store: &dyn Store,
        model: &str,
        version: VersionNumber,
    ) -> StoreResult<Option<VersionReference>> {
        Ok(self.lookup(store, model, version)?.ok())
    }

    /// As [`ReferenceCache::get`], from a version's facts read in a batch
    /// (`MonitorStore::version_facts`): only datasets that keep a profile
    /// are read, each once per job.
    pub fn from_facts(&mut self, store: &dyn Store, facts: &VersionFacts) -> StoreResult<Option<VersionReference>> {
        let upstream = facts.datasets.iter().filter(|d| d.profiled).map(|d| (d.name.clone(), d.digest.clone()));
        Ok(self.resolve(store, &facts.model, facts.baseline.as_ref(), upstream.collect())?.ok())
    }

    /// As [`reference_of`], cached.
    pub fn lookup(
        &mut self,
        store: &dyn Store,
        model: &str,
        version: VersionNumber,
    ) -> StoreResult<Result<VersionReference, Missing>> {
        let baseline = store.baseline(model)?;
        let upstream = upstream_datasets(store, model, version)?;
        self.resolve(store, model, baseline.as_ref(), upstream)
    }

    fn resolve(
        &mut self,
        store: &dyn Store,
        model: &str,
        baseline: Option<&Baseline>,
        upstream: Vec<(String, String)>,
    ) -> StoreResult<Result<VersionReference, Missing>> {
        let Some((reference, source)) = self.bins(store, baseline, upstream)? else {
            return Ok(Err(Missing::NoProfile));
        };
        let Some(&Baseline::Traffic { version, from, to }) = baseline else {
            return Ok(Ok(VersionReference { reference, source, baseline: None }));
        };
        // `bins` answers a dataset's source, never a traffic one.
        let (ReferenceSource::Training { dataset, digest } | ReferenceSource::Baseline { dataset, digest }) = source
        else {
            return Ok(Err(Missing::NoProfile));
        };
        let Some((window, windows, rows)) =
            self.traffic(store, (model.to_string(), version, from, to, reference.fingerprint))?
        else {
            return Ok(Err(Missing::NoBaselineTraffic));
        };
        let source = ReferenceSource::Traffic { version, from, to, windows, rows, dataset, digest };
        Ok(Ok(VersionReference { reference, source, baseline: Some(window) }))
    }

    /// The profile windows are binned against: a dataset baseline's, else
    /// the first upstream dataset's that keeps one.
    fn bins(
        &mut self,
        store: &dyn Store,
        baseline: Option<&Baseline>,
        upstream: Vec<(String, String)>,
    ) -> StoreResult<Option<(Arc<Reference>, ReferenceSource)>> {
        if self.by_dataset.len() >= Self::CAPACITY {
            self.by_dataset.clear();
        }
        let chosen = match baseline {
            Some(Baseline::Dataset { name, digest }) => Some((name.clone(), digest.clone())),
            Some(Baseline::Traffic { .. }) | None => None,
        };
        let candidates = chosen.into_iter().map(|k| (k, true)).chain(upstream.into_iter().map(|k| (k, false)));
        for (key, is_baseline) in candidates {
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
                return Ok(Some((reference, source)));
            }
        }
        Ok(None)
    }

    /// A traffic baseline's windows of the reference's fingerprint, merged
    /// (with their count and rows); `None` when none has drift counts.
    fn traffic(&mut self, store: &dyn Store, key: TrafficKey) -> StoreResult<Option<(Arc<Window>, usize, u64)>> {
        if let Some(found) = self.traffic.get(&key) {
            return Ok(found.clone());
        }
        if self.traffic.len() >= Self::CAPACITY {
            self.traffic.clear();
        }
        let (model, version, from, to, fingerprint) = key.clone();
        let mut rows = Vec::new();
        for (grain, from_ms, to_ms) in tiles(from, to) {
            let query = WindowQuery { model: model.clone(), version: Some(version), grain, from_ms, to_ms };
            match store.windows(&query) {
                Ok(w) => rows.extend(w.rows),
                // The baseline's version was deleted since it was set.
                Err(e) if e.kind() == ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        let merged = merged_drift(&rows, fingerprint);
        let found = merged.window.map(|m| (Arc::new(m), merged.windows, merged.rows));
        self.traffic.insert(key, found.clone());
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_tiled_by_days_hours_and_base_windows() {
        let (h, d) = (HOUR_MS, DAY_MS);
        type Tile = (Grain, i64, i64);
        let cases: [(i64, i64, &[Tile]); 5] = [
            (0, 2 * d, &[(Grain::Day, 0, 2 * d)]),
            (3 * h, 5 * h, &[(Grain::Hour, 3 * h, 5 * h)]),
            (1000, 2000, &[(Grain::Base, 1000, 2000)]),
            (h - 5, 2 * h + 5, &[(Grain::Base, h - 5, h), (Grain::Hour, h, 2 * h), (Grain::Base, 2 * h, 2 * h + 5)]),
            (
                d - h - 7,
                2 * d + h + 7,
                &[
                    (Grain::Base, d - h - 7, d - h),
                    (Grain::Hour, d - h, d),
                    (Grain::Day, d, 2 * d),
                    (Grain::Hour, 2 * d, 2 * d + h),
                    (Grain::Base, 2 * d + h, 2 * d + h + 7),
                ],
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(tiles(from, to), expected, "[{from}, {to})");
        }
    }
}
