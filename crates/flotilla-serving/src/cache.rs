//! The model cache: loads a version on first use, lets many concurrent
//! requests for one cold model share a single load, and evicts the least
//! recently used models to stay within a byte budget counted from each
//! model's measured size.
//!
//! Memory bound: the ledger counts every loaded model until its last user
//! drops it (an evicted model still answering a request is still counted).
//! A load that would need memory held by in-flight requests fails with
//! `OverBudget` (503, retry) rather than exceed the budget; the stated
//! overhead is at most `load_concurrency` models being parsed at once.
//!
//! A load reads `MLmodel` (at most [`MAX_MLMODEL_BYTES`]) and parses it once,
//! on the blocking pool; the model file's size is checked against the budget
//! before it is read, and it is read once. A load that fails because of what
//! the files say is remembered ([`crate::failures`]) until they change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flotilla_artifacts::{ArtifactPath, ArtifactStore};
use flotilla_core::VersionNumber;
use flotilla_infer::{ColumnSpec, MAX_MLMODEL_BYTES, MlModel, Model};
use futures_util::TryStreamExt;
use tokio::sync::{OnceCell, Semaphore};

use crate::failures::{Failures, identity};
use crate::{Resolved, ServingError};

#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Bytes the loaded models may hold together.
    pub budget_bytes: usize,
    /// Loads (file reads and parsing) running at once; a burst of cold
    /// models queues here instead of starving warm traffic.
    pub load_concurrency: usize,
}

/// Counters for hits, misses, loads, load time and evictions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub load_failures: u64,
    pub load_time_micros: u64,
    pub evictions: u64,
    pub loaded_models: usize,
    pub loaded_bytes: usize,
    pub budget_bytes: usize,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_failures: AtomicU64,
    load_time_micros: AtomicU64,
    evictions: AtomicU64,
}

/// A model in memory. While any clone of its `Arc` lives, its bytes count
/// against the budget.
pub struct LoadedModel {
    pub name: String,
    pub version: VersionNumber,
    pub model: Box<dyn Model>,
    pub size: usize,
    /// The input columns of the MLmodel's column-based signature (empty
    /// without one), for telemetry's feature names.
    pub feature_names: Vec<String>,
    /// The same signature's columns with their types: a model whose one
    /// input is a row of these columns also takes one input per column
    /// ([`LoadedModel::column_inputs`]).
    pub columns: Vec<ColumnSpec>,
    /// The Python class MLflow logged, if the flavor names one (what
    /// pyfunc's `predict` answers depends on it).
    pub model_class: Option<String>,
    /// Set once a prediction has run: a model's first prediction may pay
    /// for one-time work (caches, lazily built tables), so it never runs on
    /// an async worker (see `inference::predict`).
    pub(crate) warmed: AtomicBool,
    pub(crate) ledger: Arc<AtomicUsize>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("platform", &self.model.platform())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Drop for LoadedModel {
    fn drop(&mut self) {
        self.ledger.fetch_sub(self.size, Ordering::AcqRel);
    }
}

type Key = (String, VersionNumber);

#[derive(Default)]
struct Slot {
    cell: OnceCell<Arc<LoadedModel>>,
    last_used: AtomicU64,
}

pub struct ModelCache {
    config: CacheConfig,
    artifacts: Arc<dyn ArtifactStore>,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
    /// Bytes of every live `LoadedModel`, cached or still in use.
    ledger: Arc<AtomicUsize>,
    clock: AtomicU64,
    loads: Semaphore,
    counters: Counters,
    failures: Failures,
}

impl ModelCache {
    pub fn new(config: CacheConfig, artifacts: Arc<dyn ArtifactStore>) -> Self {
        let permits = config.load_concurrency.max(1);
        Self {
            config,
            artifacts,
            slots: Mutex::new(HashMap::new()),
            ledger: Arc::new(AtomicUsize::new(0)),
            clock: AtomicU64::new(0),
            loads: Semaphore::new(permits),
            counters: Counters::default(),
            failures: Failures::default(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loaded model for a resolved version, loading it if needed.
    pub async fn get(&self, resolved: &Resolved) -> Result<Arc<LoadedModel>, ServingError> {
        self.fetch(resolved).await.map(|(model, _)| model)
    }

    /// The loaded model for a resolved version, and whether it was in
    /// memory already (a hit) rather than loaded for this call or waited for
    /// while another call loaded it (a miss).
    pub async fn fetch(&self, resolved: &Resolved) -> Result<(Arc<LoadedModel>, bool), ServingError> {
        let key: Key = (resolved.name.clone(), resolved.version);
        let slot = Arc::clone(self.slots().entry(key.clone()).or_default());
        slot.last_used.store(self.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        if let Some(model) = slot.cell.get() {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok((Arc::clone(model), true));
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        if self.failures.contains(&key) {
            let files = self.artifacts.list(&resolved.dir).await?;
            if let Some(e) = self.failures.get(&key, &identity(&resolved.dir, &files)) {
                self.remove_if_same(&key, &slot);
                return Err(e);
            }
        }
        let loaded = slot.cell.get_or_try_init(|| self.load(resolved)).await.map(Arc::clone);
        match loaded {
            Ok(model) => {
                if let Err(e) = self.enforce_budget(&key, &model) {
                    self.remove_if_same(&key, &slot);
                    return Err(e);
                }
                Ok((model, false))
            }
            Err(e) => {
                self.remove_if_same(&key, &slot);
                Err(e)
            }
        }
    }

    /// Whether a version is in memory now.
    pub fn is_loaded(&self, name: &str, version: VersionNumber) -> bool {
        self.slots().get(&(name.to_string(), version)).is_some_and(|s| s.cell.initialized())
    }

    /// Drops a model (every version of `name` when `version` is `None`).
    pub fn unload(&self, name: &str, version: Option<VersionNumber>) -> usize {
        self.failures.forget(name, version);
        let mut slots = self.slots();
        let before = slots.len();
        slots.retain(|(n, v), _| !(n == name && version.is_none_or(|want| want == *v)));
        before - slots.len()
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let loaded_models = self.slots().values().filter(|s| s.cell.initialized()).count();
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            loads: c.loads.load(Ordering::Relaxed),
            load_failures: c.load_failures.load(Ordering::Relaxed),
            load_time_micros: c.load_time_micros.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            loaded_models,
            loaded_bytes: self.ledger.load(Ordering::Acquire),
            budget_bytes: self.config.budget_bytes,
        }
    }

    fn remove_if_same(&self, key: &Key, slot: &Arc<Slot>) {
        let mut slots = self.slots();
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(key);
        }
    }

    async fn load(&self, resolved: &Resolved) -> Result<Arc<LoadedModel>, ServingError> {
        let _permit = self.loads.acquire().await.map_err(|e| ServingError::Internal(e.to_string()))?;
        // The files as they are before the attempt: a failure is remembered
        // against them, so an upload that lands during the load is not missed.
        let files = self.artifacts.list(&resolved.dir).await?;
        let key = (resolved.name.clone(), resolved.version);
        let identity = identity(&resolved.dir, &files);
        // Requests that waited on a load which failed retry it in turn: the
        // first failure answers them all.
        if let Some(e) = self.failures.get(&key, &identity) {
            return Err(e);
        }
        let started = Instant::now();
        let result = self.load_now(resolved).await;
        let c = &self.counters;
        c.load_time_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match &result {
            Ok(m) => {
                c.loads.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(model = %m.name, version = m.version.get(), bytes = m.size, micros = started.elapsed().as_micros() as u64, "loaded model");
            }
            Err(e) => {
                c.load_failures.fetch_add(1, Ordering::Relaxed);
                self.failures.remember(key, identity, e);
                tracing::info!(model = %resolved.name, version = resolved.version.get(), error = %e, "model load failed");
            }
        }
        result
    }

    async fn load_now(&self, resolved: &Resolved) -> Result<Arc<LoadedModel>, ServingError> {
        let too_big = |size: u64| {
            ServingError::Unservable(format!("MLmodel is {size} bytes; at most {MAX_MLMODEL_BYTES} are accepted"))
        };
        let mlmodel = self.read(&resolved.dir, "MLmodel", MAX_MLMODEL_BYTES, too_big).await?;
        let (flavor, columns, model_class) = blocking(move || {
            let parsed = MlModel::parse(&mlmodel)?;
            let class = parsed.model_class().map(str::to_string);
            parsed.flavor().map(|f| (f, parsed.input_columns(), class))
        })
        .await??;
        let budget = self.config.budget_bytes;
        let over_budget = |size: u64| ServingError::TooLarge {
            model: format!("{}/{} (file {})", resolved.name, resolved.version, flavor.data()),
            needed: usize::try_from(size).unwrap_or(usize::MAX),
            budget,
        };
        let data = self.read(&resolved.dir, flavor.data(), budget as u64, over_budget).await?;
        let model = blocking(move || flotilla_infer::load_flavor(&flavor, &data)).await??;
        let size = model.size_bytes() + std::mem::size_of::<LoadedModel>();
        self.ledger.fetch_add(size, Ordering::AcqRel);
        Ok(Arc::new(LoadedModel {
            name: resolved.name.clone(),
            version: resolved.version,
            model,
            size,
            feature_names: columns.iter().map(|c| c.name.clone()).collect(),
            columns,
            model_class,
            warmed: AtomicBool::new(false),
            ledger: Arc::clone(&self.ledger),
        }))
    }

    /// Reads a file of the model's directory whole, refusing it with
    /// `too_big(size)` before reading if the store says it is over `limit`
    /// bytes (and while reading, if it grows past that).
    async fn read(
        &self,
        dir: &ArtifactPath,
        file: &str,
        limit: u64,
        too_big: impl Fn(u64) -> ServingError,
    ) -> Result<Vec<u8>, ServingError> {
        let path = dir.join(&ArtifactPath::parse(file)?)?;
        let object = self.artifacts.get(&path).await?;
        if object.size > limit {
            return Err(too_big(object.size));
        }
        let mut buf = Vec::with_capacity(object.size as usize);
        let mut body = object.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| ServingError::Internal(e.to_string()))? {
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(too_big((buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    /// After a load: refuse a model bigger than the budget, then evict the
    /// least recently used others until the ledger fits (down to 95% of the
    /// budget, so evictions come in batches, not one scan per load).
    fn enforce_budget(&self, key: &Key, model: &Arc<LoadedModel>) -> Result<(), ServingError> {
        let budget = self.config.budget_bytes;
        if model.size > budget {
            return Err(ServingError::TooLarge { model: format!("{}/{}", key.0, key.1), needed: model.size, budget });
        }
        if self.ledger.load(Ordering::Acquire) <= budget {
            return Ok(());
        }
        let low_water = budget / 20 * 19;
        let mut slots = self.slots();
        let mut candidates: Vec<(u64, Key, usize)> = slots
            .iter()
            .filter(|(k, _)| *k != key)
            .filter_map(|(k, s)| s.cell.get().map(|m| (s.last_used.load(Ordering::Relaxed), k.clone(), m.size)))
            .collect();
        candidates.sort_unstable_by_key(|(used, _, _)| *used);
        let mut freed_in_cache = 0usize;
        let live = self.ledger.load(Ordering::Acquire);
        for (_, k, size) in candidates {
            if live.saturating_sub(freed_in_cache) <= low_water {
                break;
            }
            slots.remove(&k);
            freed_in_cache += size;
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        drop(slots);
        // Evicted models still answering requests keep their bytes until they finish.
        if self.ledger.load(Ordering::Acquire) > budget {
            return Err(ServingError::OverBudget);
        }
        Ok(())
    }
}

/// Runs CPU-bound work (YAML, model parsing) on the blocking pool, never on
/// an async worker.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServingError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ServingError::Internal(e.to_string()))
}
