//! Where a model version's files are: a version's `source` resolved to a
//! directory in the artifact store.

use flotilla_artifacts::{ArtifactPath, SourceUri, parse_source_uri};
use flotilla_core::Error;
use flotilla_core::model::ModelVersion;
use flotilla_store::{Store, StoreResult};

/// The artifact directory holding a version's files (`MLmodel` and the model).
pub fn artifact_dir(store: &dyn Store, version: &ModelVersion) -> StoreResult<ArtifactPath> {
    let unresolvable =
        |why: String| Error::invalid(format!("Model version source '{}' cannot be resolved: {why}", version.source));
    match parse_source_uri(&version.source) {
        Ok(SourceUri::Artifacts(path)) => Ok(path),
        Ok(SourceUri::Run { run_id, path }) => {
            let run = store.get_run(&run_id)?;
            let root = match parse_source_uri(&run.info.artifact_uri) {
                Ok(SourceUri::Artifacts(root)) => root,
                Ok(_) | Err(_) => {
                    return Err(unresolvable("the run's artifacts are not in this server's store".into()).into());
                }
            };
            root.join(&path).map_err(|e| unresolvable(e.to_string()).into())
        }
        Ok(SourceUri::LoggedModel { model_id }) => {
            let model = store.get_logged_model(&model_id)?;
            match parse_source_uri(&model.info.artifact_uri) {
                Ok(SourceUri::Artifacts(root)) => Ok(root),
                Ok(_) | Err(_) => {
                    Err(unresolvable("the logged model's artifacts are not in this server's store".into()).into())
                }
            }
        }
        Ok(SourceUri::RegisteredModel { .. }) => {
            Err(unresolvable("a models:/ source names another registered model".into()).into())
        }
        Err(e) => Err(unresolvable(e.to_string()).into()),
    }
}
