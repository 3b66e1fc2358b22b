//! Which version answers: `name` (the default alias, else the newest version),
//! `name@alias`, or an explicit version. Answers are cached and invalidated by
//! the store's registry generation, so a registration or an alias move is seen
//! by the next request; a short TTL covers writers in other processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_artifacts::ArtifactPath;
use flotilla_core::fleet::PartitionValue;
use flotilla_core::model::ModelVersion;
use flotilla_core::{ErrorKind, VersionNumber};
use flotilla_store::{Store, StoreError};

use crate::ServingError;
use crate::source::artifact_dir;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// The default alias if set, else the newest version.
    Default,
    Version(VersionNumber),
    Alias(String),
    /// A family's member for this partition, falling back to its parents
    /// and then the family default (each under the default alias, else newest).
    Partition(Vec<PartitionValue>),
}

/// A model as a request names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    pub name: String,
    pub selector: Selector,
}

impl ModelRef {
    /// `model` may be `name` or `name@alias`; `version` a number or an alias.
    pub fn parse(model: &str, version: Option<&str>) -> Result<Self, ServingError> {
        let (name, alias) = match model.rsplit_once('@') {
            Some((n, a)) if !n.is_empty() && !a.is_empty() => (n, Some(a)),
            Some(_) | None => (model, None),
        };
        if name.is_empty() {
            return Err(ServingError::BadRequest("model name is empty".into()));
        }
        let selector = match (alias, version.filter(|v| !v.is_empty())) {
            (Some(_), Some(_)) => {
                return Err(ServingError::BadRequest("name both an alias (@) and a version, not both".into()));
            }
            (Some(a), None) => Selector::Alias(a.to_string()),
            (None, Some(v)) => match v.parse::<VersionNumber>() {
                Ok(n) => Selector::Version(n),
                Err(_) => Selector::Alias(v.to_string()),
            },
            (None, None) => Selector::Default,
        };
        Ok(Self { name: name.to_string(), selector })
    }

    /// `family` served for `partition`; no version or alias may be named too.
    pub fn partitioned(self, partition: Vec<PartitionValue>) -> Result<Self, ServingError> {
        match self.selector {
            Selector::Default => Ok(Self { name: self.name, selector: Selector::Partition(partition) }),
            Selector::Version(_) | Selector::Alias(_) | Selector::Partition(_) => Err(ServingError::BadRequest(
                "a partitioned request names the family only, not a version or an alias".into(),
            )),
        }
    }
}

/// A resolved version and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    pub version: VersionNumber,
    pub dir: ArtifactPath,
    /// For a partitioned request: the partition that answered (empty for
    /// the family default) and whether it is an ancestor of the one asked for.
    pub partition: Option<(Vec<PartitionValue>, bool)>,
}

struct Cached {
    generation: u64,
    at: Instant,
    resolved: Resolved,
}

pub struct Resolver {
    store: Arc<dyn Store>,
    default_alias: String,
    ttl: Duration,
    cache: Mutex<HashMap<ModelRef, Cached>>,
}

const MAX_CACHED: usize = 200_000;

impl Resolver {
    pub fn new(store: Arc<dyn Store>, default_alias: impl Into<String>, ttl: Duration) -> Self {
        Self { store, default_alias: default_alias.into(), ttl, cache: Mutex::new(HashMap::new()) }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn resolve(&self, model: &ModelRef) -> Result<Resolved, ServingError> {
        let generation = self.store.registry_generation();
        if let Some(hit) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(model)
            && hit.generation == generation
            && hit.at.elapsed() < self.ttl
        {
            return Ok(hit.resolved.clone());
        }
        let store = Arc::clone(&self.store);
        let (m, alias) = (model.clone(), self.default_alias.clone());
        let resolved = tokio::task::spawn_blocking(move || resolve_now(store.as_ref(), &m, &alias))
            .await
            .map_err(|e| ServingError::Internal(e.to_string()))??;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(model.clone(), Cached { generation, at: Instant::now(), resolved: resolved.clone() });
        Ok(resolved)
    }
}

fn not_found(model: &ModelRef, e: StoreError) -> ServingError {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::InvalidParameter => ServingError::NotFound(match &model.selector {
            Selector::Default => format!("model '{}' not found", model.name),
            Selector::Version(v) => format!("model '{}' version {v} not found", model.name),
            Selector::Alias(a) => format!("model '{}' has no version with alias '{a}'", model.name),
            Selector::Partition(_) => e.to_string(),
        }),
        ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict
        | ErrorKind::Unauthenticated
        | ErrorKind::PermissionDenied
        | ErrorKind::Unservable
        | ErrorKind::TooLarge
        | ErrorKind::Busy
        | ErrorKind::Interrupted
        | ErrorKind::Internal => ServingError::Store(e),
    }
}

fn resolve_now(store: &dyn Store, model: &ModelRef, default_alias: &str) -> Result<Resolved, ServingError> {
    let version: ModelVersion = match &model.selector {
        Selector::Version(v) => store.get_version(&model.name, *v).map_err(|e| not_found(model, e))?,
        Selector::Alias(a) => store
            .find_version_by_alias(&model.name, a)
            .map_err(|e| not_found(model, e))?
            .ok_or_else(|| ServingError::NotFound(format!("model '{}' has no version with alias '{a}'", model.name)))?,
        Selector::Partition(path) => return resolve_partition(store, model, path, default_alias),
        Selector::Default => match store.find_version_by_alias(&model.name, default_alias) {
            Ok(Some(v)) => v,
            Ok(None) => {
                let latest = store.get_latest_versions(&model.name, &[]).map_err(|e| not_found(model, e))?;
                latest
                    .into_iter()
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| ServingError::NotFound(format!("model '{}' has no versions", model.name)))?
            }
            Err(e) => return Err(not_found(model, e)),
        },
    };
    let dir = artifact_dir(store, &version).map_err(|e| ServingError::Unservable(e.to_string()))?;
    Ok(Resolved { name: version.name, version: version.version, dir, partition: None })
}

fn resolve_partition(
    store: &dyn Store,
    model: &ModelRef,
    path: &[PartitionValue],
    default_alias: &str,
) -> Result<Resolved, ServingError> {
    let target = store.resolve_partition(&model.name, path, default_alias).map_err(|e| match e.kind() {
        ErrorKind::InvalidParameter => ServingError::BadRequest(e.to_string()),
        ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::InvalidState
        | ErrorKind::Conflict
        | ErrorKind::Unauthenticated
        | ErrorKind::PermissionDenied
        | ErrorKind::Unservable
        | ErrorKind::TooLarge
        | ErrorKind::Busy
        | ErrorKind::Interrupted
        | ErrorKind::Internal => not_found(model, e),
    })?;
    let version = store.get_version(&target.model, target.version).map_err(|e| not_found(model, e))?;
    let dir = artifact_dir(store, &version).map_err(|e| ServingError::Unservable(e.to_string()))?;
    Ok(Resolved {
        name: target.model,
        version: target.version,
        dir,
        partition: Some((target.partition, target.fallback)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_refs() {
        let cases: &[(&str, Option<&str>, Selector)] = &[
            ("m", None, Selector::Default),
            ("m", Some("3"), Selector::Version(VersionNumber::new(3).unwrap())),
            ("m", Some("champion"), Selector::Alias("champion".into())),
            ("m@challenger", None, Selector::Alias("challenger".into())),
            ("a@b@c", None, Selector::Alias("c".into())),
        ];
        for (m, v, want) in cases {
            assert_eq!(&ModelRef::parse(m, *v).unwrap().selector, want, "{m} {v:?}");
        }
        assert!(ModelRef::parse("", None).is_err());
        assert!(ModelRef::parse("m@a", Some("2")).is_err());
    }
}
