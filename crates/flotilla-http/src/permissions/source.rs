//! What a new model version is made from. A version serves (and its
//! download URI hands out) whatever its `source` names, so creating one
//! needs READ on that too, not only EDIT on the registered model: else a
//! caller could register `runs:/<a run they cannot read>/model` and read it
//! back through the version. Checked: the `run_id`'s experiment, and the
//! `source` URI's run, logged model, registered model or artifact
//! experiment. A source the URI parser refuses is left to the handler's own
//! 400 (it reaches nothing).

use axum::extract::Request;
use flotilla_app::auth::{Authenticator, Caller, Owner as ExperimentOf, Permission, Resource, denied};
use flotilla_artifacts::{SourceUri, parse_source_uri};
use flotilla_core::Error;

use super::fields;

pub(super) async fn authorize(
    auth: &std::sync::Arc<Authenticator>,
    caller: &Caller,
    request: Request,
) -> Result<Request, Error> {
    let (request, locator) = fields(request).await?;
    if let Some(run) = locator.run_id.as_deref().or(locator.run_uuid.as_deref()).filter(|r| !r.is_empty()) {
        require_experiment_of(auth, caller, ExperimentOf::Run, run).await?;
    }
    let Some(source) = locator.source.as_deref() else { return Ok(request) };
    match parse_source_uri(source) {
        Ok(SourceUri::Run { run_id, .. }) => require_experiment_of(auth, caller, ExperimentOf::Run, &run_id).await?,
        Ok(SourceUri::LoggedModel { model_id }) => {
            require_experiment_of(auth, caller, ExperimentOf::LoggedModel, &model_id).await?
        }
        Ok(SourceUri::RegisteredModel { name, .. }) => {
            if !auth.model_level(caller, &name).await?.allows(Permission::Read) {
                return Err(denied());
            }
        }
        Ok(SourceUri::Artifacts(path)) => {
            // Stored artifacts live under their experiment's id.
            let first = path.segments().next().unwrap_or("");
            let experiment = if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) { first } else { "" };
            auth.require(caller, Resource::Experiment(experiment), Permission::Read)?;
        }
        Err(_) => {}
    }
    Ok(request)
}

/// READ on the experiment a run or logged model belongs to; one that does
/// not exist is refused alike (no oracle for ids).
async fn require_experiment_of(
    auth: &Authenticator,
    caller: &Caller,
    owner: ExperimentOf,
    id: &str,
) -> Result<(), Error> {
    let experiment = auth.experiment_of(owner, id).await?.ok_or_else(denied)?;
    auth.require(caller, Resource::Experiment(&experiment), Permission::Read)
}
