//! The entry points of posted telemetry (`POST .../predictions` and
//! `.../labels`): the version is checked (404) before the body is parsed;
//! parsing and writing run on the blocking pool under the request's budget.

use bytes::Bytes;
use flotilla_core::{Error, VersionNumber};

use super::ingest::{self, Batch, LabelsAnswer, PredictionsAnswer, Task};
use super::ingest_arrow;
use crate::AppState;

/// How a predictions body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    JsonLines,
    Parquet,
    ArrowStream,
}

impl Encoding {
    /// By media type; `Err` names the ones read.
    pub fn of_media_type(media: &str) -> Result<Encoding, String> {
        let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/json" | "application/x-jsonlines" => {
                Ok(Encoding::JsonLines)
            }
            "application/vnd.apache.parquet" | "application/x-parquet" => Ok(Encoding::Parquet),
            "application/vnd.apache.arrow.stream" => Ok(Encoding::ArrowStream),
            other => Err(format!(
                "media type '{other}' is not read: application/x-ndjson, application/vnd.apache.parquet or \
                 application/vnd.apache.arrow.stream"
            )),
        }
    }
}

fn config(state: &AppState) -> Result<super::TelemetryConfig, Error> {
    state
        .telemetry
        .as_ref()
        .map(|t| *t.config())
        .ok_or_else(|| Error::invalid_state("serving telemetry is off on this server (--monitor off)"))
}

pub async fn predictions(
    state: &AppState,
    model: &str,
    version: &str,
    encoding: Encoding,
    body: Bytes,
) -> Result<PredictionsAnswer, Error> {
    let config = config(state)?;
    let version = VersionNumber::parse_param(version)?;
    let model = model.to_string();
    state
        .call(move |store| {
            let kept = store.monitored_version(&model, version)?;
            let columns = kept.map(|k| k.columns.into_iter().take(k.inputs).collect()).unwrap_or_default();
            let reference = super::reference::version_reference(store, &model, version)?;
            let mut batch = Batch::new(config, columns).with_reference(reference);
            match encoding {
                Encoding::JsonLines => ingest::push_json_lines(&mut batch, &body)?,
                Encoding::Parquet => ingest_arrow::push_parquet(&mut batch, body)?,
                Encoding::ArrowStream => ingest_arrow::push_arrow_stream(&mut batch, body)?,
            }
            batch.write(store, &model, version)
        })
        .await
}

pub async fn labels(
    state: &AppState,
    model: &str,
    version: &str,
    task: Option<&str>,
    body: Bytes,
) -> Result<LabelsAnswer, Error> {
    let config = config(state)?;
    let version = VersionNumber::parse_param(version)?;
    let task = match task {
        None => None,
        Some("regression") => Some(Task::Regression),
        Some("classification") => Some(Task::Classification),
        Some(other) => {
            return Err(Error::invalid(format!("task must be regression or classification, not '{other}'")));
        }
    };
    let model = model.to_string();
    state
        .call(move |store| {
            // Not found before anything is parsed.
            store.monitored_version(&model, version)?;
            let labels = ingest::parse_labels(&body)?;
            ingest::join_labels(store, &config, &model, version, &labels, task)
        })
        .await
}
