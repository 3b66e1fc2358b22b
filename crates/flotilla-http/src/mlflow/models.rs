//! Where a model version's files are: checking a new version's `source`
//! (MLflow's history of traversal and SSRF advisories lives here) and turning
//! a stored source into a download URI.

use flotilla_artifacts::{SourceUri, parse_source_uri, to_artifacts_uri};
use flotilla_core::Error;
use flotilla_store::{Store, StoreResult};

use crate::error::{ApiError, ApiResult};

/// Accepts only sources inside flotilla's own storage: `mlflow-artifacts:`,
/// `runs:/` and `models:/` URIs with safe paths, consistent with the request's
/// `run_id` / `model_id`. Local paths, `file:` and foreign hosts are refused.
pub(crate) fn check_source(source: &str, run_id: Option<&str>, model_id: Option<&str>) -> ApiResult<()> {
    let parsed = parse_source_uri(source)
        .map_err(|e| ApiError::invalid(format!("Invalid model version source '{source}': {e}")))?;
    match parsed {
        SourceUri::Run { run_id: in_source, .. } => match run_id.filter(|r| !r.is_empty()) {
            Some(r) if r != in_source => Err(ApiError::invalid(format!(
                "Invalid model version source '{source}': the run id does not match run_id '{r}'"
            ))),
            Some(_) | None => Ok(()),
        },
        SourceUri::LoggedModel { model_id: in_source } => match model_id.filter(|m| !m.is_empty()) {
            Some(m) if m != in_source => Err(ApiError::invalid(format!(
                "Invalid model version source '{source}': the model id does not match model_id '{m}'"
            ))),
            Some(_) | None => Ok(()),
        },
        SourceUri::Artifacts(_) | SourceUri::RegisteredModel { .. } => Ok(()),
    }
}

/// The artifact URI a client downloads a version's files from.
pub(crate) fn download_uri(store: &dyn Store, name: &str, version: &str) -> StoreResult<String> {
    let v = store.get_model_version(name, version)?;
    match parse_source_uri(&v.source) {
        Ok(SourceUri::Run { run_id, path }) => {
            let run = store.get_run(&run_id)?;
            // Join as paths and re-encode, so a file literally named `a%20b` stays itself.
            match parse_source_uri(&run.info.artifact_uri) {
                Ok(SourceUri::Artifacts(root)) => {
                    let full = root.join(&path).map_err(|e| Error::invalid(e.to_string()))?;
                    Ok(to_artifacts_uri(&full))
                }
                Ok(_) | Err(_) => Ok(run.info.artifact_uri),
            }
        }
        Ok(SourceUri::LoggedModel { model_id }) => Ok(store.get_logged_model(&model_id)?.info.artifact_uri),
        Ok(SourceUri::Artifacts(_)) | Ok(SourceUri::RegisteredModel { .. }) => Ok(v.source),
        Err(e) => Err(Error::invalid(format!("Model version source cannot be resolved: {e}")).into()),
    }
}
