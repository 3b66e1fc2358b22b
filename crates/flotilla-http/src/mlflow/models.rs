//! Where a model version's files are: checking a new version's `source`
//! (MLflow's history of traversal and SSRF advisories lives here) and turning
//! a stored source into a download URI.

use flotilla_artifacts::{SourceUri, parse_source_uri, to_artifacts_uri};
use flotilla_serving::source::artifact_dir;
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
    Ok(to_artifacts_uri(&artifact_dir(store, &v)?))
}
