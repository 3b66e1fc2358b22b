//! Profiles of datasets (`flotilla-profile`): made from an upload of the
//! data (CSV, Parquet, Arrow IPC stream) on the blocking pool, or sent
//! ready-made by the CLI (which profiles with the same code and sends only
//! the profile), or read from the dataset's own source when that is a data
//! file in this server's artifact store, checked, and kept on the dataset
//! as its bytes and a JSON summary. Writing one needs EDIT on an experiment whose runs used the
//! dataset (admins any): a profile is the reference drift is measured
//! against, so it is not anyone's to replace.

use std::fs::File;

use flotilla_artifacts::{ArtifactPath, SourceUri, parse_source_uri};
use flotilla_core::Error;
use flotilla_profile::{ContentType, ErrorClass, Profile, ProfileError, Profiler};
use flotilla_store::{Readable, Store};
use serde_json::{Value, json};

use crate::auth::{Authenticator, Caller, Permission, Resource, denied};

/// The media type of a profile made by `flotilla data profile` (the bytes of
/// [`Profile::to_bytes`]).
pub const PROFILE_MEDIA_TYPE: &str = "application/x-flotilla-profile";

/// The largest ready-made profile read (10,000 features of the largest sketches, and room).
pub const MAX_PROFILE_BYTES: u64 = 256 << 20;

/// What an upload holds, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// Data to profile.
    Data(ContentType),
    /// A ready profile.
    Profile,
}

impl Upload {
    /// The upload a `Content-Type` names; `Err` is the 415 message.
    pub fn of_media_type(media_type: &str) -> Result<Self, String> {
        let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence == PROFILE_MEDIA_TYPE {
            return Ok(Self::Profile);
        }
        ContentType::from_mime(media_type)
            .map(Self::Data)
            .map_err(|e| format!("{e}, or {PROFILE_MEDIA_TYPE} for a profile made by `flotilla data profile`"))
    }
}

/// A profile error as the client hears it: its fault (400, naming the line
/// or column) or ours (500, logged).
pub fn error(e: ProfileError) -> Error {
    match e.class() {
        ErrorClass::BadInput | ErrorClass::UnsupportedMediaType => Error::invalid(e.to_string()),
        ErrorClass::Internal => {
            tracing::error!(error = %e, "profiling failed");
            crate::error::internal()
        }
    }
}

/// Profiles the server makes at once: each may hold a batch of rows and a
/// Parquet column chunk in memory (`ProfilerConfig`), so memory stays
/// bounded however many uploads arrive together; the others wait.
pub const PROFILES_AT_ONCE: usize = 2;
static PROFILING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PROFILES_AT_ONCE);

/// Reads an upload on the blocking pool, at most [`PROFILES_AT_ONCE`] at a time.
pub async fn profile_upload(file: File, upload: Upload, len: u64) -> Result<Profile, Error> {
    let _permit = PROFILING.acquire().await.map_err(|_| crate::error::internal())?;
    tokio::task::spawn_blocking(move || read_upload(file, upload, len)).await.map_err(|_| crate::error::internal())?
}

/// Reads an upload spooled to `file` (blocking: parsing is slow work).
pub fn read_upload(file: File, upload: Upload, len: u64) -> Result<Profile, Error> {
    match upload {
        Upload::Data(content_type) => Profiler::default().profile_file(file, content_type).map_err(error),
        Upload::Profile => {
            // A profile is at most ~16 KB a feature (10,000 features): it is read whole, so a
            // bigger body is refused before anything is allocated for it.
            if len > MAX_PROFILE_BYTES {
                return Err(Error::new(
                    flotilla_core::ErrorKind::TooLarge,
                    format!("a profile of {len} bytes is larger than the limit of {MAX_PROFILE_BYTES} bytes"),
                ));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            std::io::Read::read_to_end(&mut { file }, &mut bytes).map_err(|e| error(ProfileError::Io(e)))?;
            Profile::from_bytes(&bytes).map_err(error)
        }
    }
}

/// Keeps `profile` on the dataset (which must exist) and answers its summary.
pub fn keep(store: &dyn Store, name: &str, digest: &str, profile: &Profile) -> Result<Value, Error> {
    let summary = serde_json::to_value(profile.summary()).map_err(|_| crate::error::internal())?;
    let bytes = profile.to_bytes();
    store.set_dataset_profile(name, digest, &bytes, &summary.to_string()).map_err(crate::error::from_store)?;
    Ok(json!({ "name": name, "digest": digest, "profile_bytes": bytes.len(), "summary": summary }))
}

/// The profile kept on a dataset, as its summary; not found when it has none.
pub fn kept(store: &dyn Store, name: &str, digest: &str) -> Result<Value, Error> {
    match store.dataset_profile(name, digest).map_err(crate::error::from_store)? {
        Some(p) => {
            let summary: Value = serde_json::from_str(&p.summary).map_err(|_| crate::error::internal())?;
            Ok(json!({ "name": name, "digest": digest, "profile_bytes": p.bytes.len(), "summary": summary }))
        }
        None => Err(Error::not_found(format!("Dataset '{name}' with digest '{digest}' has no profile yet"))),
    }
}

/// `Ok` when `caller` may write the dataset's profile: an admin, or EDIT on
/// an experiment whose runs used it. A missing dataset is not found.
pub async fn may_write(
    auth: &Authenticator,
    caller: &Caller,
    store: std::sync::Arc<dyn Store>,
    name: String,
    digest: String,
) -> Result<(), Error> {
    if caller.is_admin {
        return Ok(());
    }
    let experiments = tokio::task::spawn_blocking(move || store.dataset_experiments(&name, &digest))
        .await
        .map_err(|_| crate::error::internal())?
        .map_err(crate::error::from_store)?;
    if experiments.iter().any(|e| auth.level(caller, Resource::Experiment(e)).allows(Permission::Edit)) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Where a dataset's own data is, for profiling it on request: its source
/// (MLflow's `{"uri": ...}`, or the bare URI) naming a CSV, Parquet or Arrow
/// file in this server's artifact store (`mlflow-artifacts:/...`, or
/// `runs:/<id>/<path>` under the run's artifact root).
pub fn source_file(store: &dyn Store, name: &str, digest: &str) -> Result<(ArtifactPath, ContentType), Error> {
    let entity = store.get_dataset(name, digest, &Readable::everything()).map_err(crate::error::from_store)?;
    let uri = serde_json::from_str::<Value>(&entity.source)
        .ok()
        .and_then(|v| v["uri"].as_str().map(str::to_string))
        .unwrap_or_else(|| entity.source.clone());
    let refuse = |why: &str| {
        Error::invalid(format!(
            "Dataset '{name}' with digest '{digest}' cannot be profiled from its source '{uri}': {why}; upload its data instead"
        ))
    };
    let path = match parse_source_uri(&uri) {
        Ok(SourceUri::Artifacts(path)) => path,
        Ok(SourceUri::Run { run_id, path }) => {
            let run = store.get_run(&run_id).map_err(crate::error::from_store)?;
            match parse_source_uri(&run.info.artifact_uri) {
                Ok(SourceUri::Artifacts(root)) => root.join(&path).map_err(|e| refuse(&e.to_string()))?,
                Ok(_) | Err(_) => return Err(refuse("the run's artifacts are not in this server's store")),
            }
        }
        Ok(SourceUri::LoggedModel { .. } | SourceUri::RegisteredModel { .. }) => {
            return Err(refuse("it names a model, not a data file"));
        }
        Err(_) => return Err(refuse("it is not a file in this server's artifact store")),
    };
    let content_type = ContentType::from_path(std::path::Path::new(path.as_str()))
        .map_err(|_| refuse("only .csv, .parquet and .arrows files are profiled"))?;
    Ok((path, content_type))
}

/// The experiment an artifact path is stored under (its first segment), if any.
pub fn artifact_experiment(path: &ArtifactPath) -> Option<&str> {
    path.segments().next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}
