//! The serving facade: resolve a request's model through the registry, then
//! take it from the cache.

use std::sync::Arc;
use std::time::Duration;

use flotilla_artifacts::ArtifactStore;
use flotilla_store::Store;

use crate::{CacheConfig, LoadedModel, ModelCache, ModelRef, Resolved, Resolver, ServingError};

#[derive(Debug, Clone)]
pub struct ServingConfig {
    pub cache: CacheConfig,
    /// The alias `/v2/models/{name}` serves when no version is named.
    pub default_alias: String,
    /// How long a resolution made by this process is trusted when the
    /// registry is written by another process.
    pub resolve_ttl: Duration,
}

pub struct Serving {
    pub resolver: Resolver,
    pub cache: ModelCache,
}

impl Serving {
    pub fn new(config: ServingConfig, store: Arc<dyn Store>, artifacts: Arc<dyn ArtifactStore>) -> Self {
        Self {
            resolver: Resolver::new(store, config.default_alias, config.resolve_ttl),
            cache: ModelCache::new(config.cache, artifacts),
        }
    }

    /// The loaded model that answers for `model`, and which version it is.
    pub async fn model(&self, model: &ModelRef) -> Result<(Resolved, Arc<LoadedModel>), ServingError> {
        self.fetch(model).await.map(|(resolved, loaded, _)| (resolved, loaded))
    }

    /// As [`Serving::model`], and whether the model was in memory already.
    pub async fn fetch(&self, model: &ModelRef) -> Result<(Resolved, Arc<LoadedModel>, bool), ServingError> {
        let resolved = self.resolver.resolve(model).await?;
        let (loaded, hit) = self.cache.fetch(&resolved).await?;
        Ok((resolved, loaded, hit))
    }
}
