//! `flotilla fleet generate --telemetry`: the reference profile kept on the
//! generated fleet's shared training data, then the synthetic windows
//! (`flotilla_fleetgen::telemetry`), encoded from the application's
//! templates (`flotilla_app::monitor::telemetry::synthetic`).

use std::path::Path;
use std::time::Instant;

use flotilla_app::monitor::telemetry::synthetic;
use flotilla_drift::Reference;
use flotilla_fleetgen::telemetry::{TelemetrySpec, TelemetryTemplates, Template, generate_telemetry, shared_datasets};
use flotilla_store::SqliteStore;
use serde_json::{Value, json};

use super::generate::{GenerateArgs, bar};

pub fn generate(data_dir: &Path, args: &GenerateArgs) -> anyhow::Result<Value> {
    let path = crate::config::database_path(data_dir);
    let started = Instant::now();
    let bytes_before = std::fs::metadata(&path)?.len();
    let profile = synthetic::reference_profile(args.seed)?;
    let reference = Reference::from_profile(&profile);
    {
        let store = SqliteStore::open(&path)?;
        for (name, digest) in shared_datasets(&path)? {
            flotilla_app::data::profile::keep(&store, &name, &digest, &profile)
                .map_err(|e| anyhow::anyhow!("keeping the reference profile on {name}@{digest}: {e}"))?;
        }
    }
    let templates = TelemetryTemplates {
        fingerprint: reference.fingerprint,
        inputs: synthetic::INPUTS,
        columns: synthetic::COLUMNS.iter().map(|c| c.to_string()).collect(),
        templates: synthetic::templates(&reference, args.seed)
            .map(|v| v.into_iter().map(|(requests, stats)| Template { requests, stats }).collect()),
    };
    let spec = TelemetrySpec {
        days: args.telemetry_days,
        hours: args.telemetry_hours,
        seed: args.seed,
        now_ms: flotilla_app::monitor::telemetry::now_ms(),
    };
    let progress = bar(args.models, "telemetry");
    let report = generate_telemetry(&path, &spec, &templates, &mut |done| progress.set_position(done))?;
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    let bytes_after = std::fs::metadata(&path)?.len();
    Ok(json!({
        "versions": report.versions,
        "windows": report.windows,
        "seconds": secs,
        "database_bytes_added": bytes_after.saturating_sub(bytes_before),
    }))
}
