//! Opening the artifact store `--artifacts` names: a local directory, or an S3 bucket (checked
//! with one request at start-up, so a wrong bucket, endpoint or credential stops the server
//! with a message naming the bucket instead of failing the first upload).

use std::sync::Arc;

use anyhow::Context;
use flotilla_artifacts::{ArtifactStore, LocalArtifactStore};
use flotilla_artifacts_s3::S3ArtifactStore;

use crate::config::ArtifactsLocation;

pub async fn open(location: &ArtifactsLocation) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    match location {
        ArtifactsLocation::Directory(dir) => {
            let store = LocalArtifactStore::new(dir.clone())
                .with_context(|| format!("opening the artifact directory {}", dir.display()))?;
            Ok(Arc::new(store))
        }
        ArtifactsLocation::S3(url) => {
            let store = S3ArtifactStore::open(url, &S3ArtifactStore::env_vars())
                .with_context(|| format!("configuring the artifact store {url}"))?;
            store.check().await.with_context(|| format!("reaching the artifact store {url}"))?;
            tracing::info!(bucket = store.bucket(), "artifacts in S3");
            Ok(Arc::new(store))
        }
    }
}
