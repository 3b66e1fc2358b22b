//! `flotilla fleet generate`: a synthetic fleet in a data directory's store
//! (or a PostgreSQL database, `--database`: loaded with `COPY`), with a
//! progress bar, and tiny real LightGBM models for a chosen fraction of the
//! stores so that the fleet can be served, not only searched.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use flotilla_artifacts::{ArtifactPath, ArtifactStore, LocalArtifactStore};
use flotilla_fleetgen::{FleetSpec, GeneratedVersion};
use flotilla_store::PgStore;
use indicatif::{ProgressBar, ProgressStyle};

use crate::local_store::StoreLocation;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Store-level models (one per store), spread over the families.
    #[arg(long, default_value_t = 10_000)]
    pub(super) models: u64,
    /// Versions per model.
    #[arg(long, default_value_t = 3)]
    versions: u32,
    #[arg(long, default_value_t = 8)]
    families: u32,
    /// Regions per family, the level above the stores.
    #[arg(long, default_value_t = 50)]
    regions: u32,
    /// Fraction of the models whose versions get a real (tiny LightGBM) model file.
    #[arg(long, default_value_t = 0.0)]
    with_files: f64,
    #[arg(long, default_value_t = 42)]
    pub(super) seed: u64,
    /// Also synthetic fleet health for every model (some families drifting,
    /// some regions erroring, some models idle), for the health roll-ups.
    #[arg(long)]
    pub(super) health: bool,
    /// Also synthetic serving telemetry: the champion versions' hour and day
    /// windows (same families drifting, regions erroring, models idle), with a
    /// reference profile on the shared training data, for every monitoring page,
    /// query and the daily drift job.
    #[arg(long)]
    pub(super) telemetry: bool,
    /// Days of day windows (before today) with `--telemetry`.
    #[arg(long, default_value_t = 7)]
    pub(super) telemetry_days: u32,
    /// Hours of hour windows (before this hour) with `--telemetry`.
    #[arg(long, default_value_t = 6)]
    pub(super) telemetry_hours: u32,
}

/// A LightGBM regression model with one split on feature 0, over 4 features.
fn tiny_model(seed: u64) -> String {
    let low = (seed % 97) as f64 / 10.0;
    let high = low + 1.0 + (seed % 13) as f64 / 10.0;
    format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=3\nobjective=regression\n\
         feature_names=f0 f1 f2 f3\nfeature_infos=[0:1] [0:1] [0:1] [0:1]\ntree_sizes=300\n\n\
         Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\n\
         left_child=-1\nright_child=-2\nleaf_value={low} {high}\nleaf_weight=1 1\nleaf_count=1 1\n\
         internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=1\n\n\nend of trees\n"
    )
}

const MLMODEL: &str = "flavors:\n  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";

pub(super) fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn run(location: &StoreLocation, args: &GenerateArgs, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!((0.0..=1.0).contains(&args.with_files), "--with-files is a fraction between 0 and 1");
    let data_dir = location.data_dir.as_path();
    std::fs::create_dir_all(data_dir)?;
    let postgres = match location.postgres_url() {
        Some(url) => {
            anyhow::ensure!(
                !args.health && !args.telemetry,
                "--health and --telemetry are generated into a data directory's SQLite store only"
            );
            Some(PgStore::connect(url).context("connecting to the PostgreSQL database (--database)")?)
        }
        None => None,
    };
    let spec = FleetSpec {
        models: args.models,
        versions_per_model: args.versions,
        families: args.families,
        regions_per_family: args.regions,
        seed: args.seed,
        placeholder_source: "mlflow-artifacts:/fleet/placeholder".into(),
    };
    let every = (args.with_files > 0.0).then(|| (1.0 / args.with_files).round().max(1.0) as u64);
    let progress = bar(args.models, "models  ");
    let started = Instant::now();
    let wants_file = &mut |i| every.is_some_and(|n| i % n == 0);
    let (report, files) = match &postgres {
        Some(store) => flotilla_fleetgen::postgres::generate_fleet_postgres(store, &spec, wants_file, &mut |done| {
            progress.set_position(done)
        })?,
        None => flotilla_fleetgen::generate_fleet(
            &crate::config::database_path(data_dir),
            &spec,
            wants_file,
            &mut |done| progress.set_position(done),
        )?,
    };
    progress.finish();
    let metadata_secs = started.elapsed().as_secs_f64();
    write_files(data_dir, &files)?;
    let health_secs = if args.health {
        let started = Instant::now();
        let progress = bar(report.models, "health  ");
        flotilla_fleetgen::health::generate_health(&crate::config::database_path(data_dir), args.seed, &mut |done| {
            progress.set_position(done)
        })?;
        progress.finish();
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };
    let telemetry = if args.telemetry { Some(super::telemetry::generate(data_dir, args)?) } else { None };
    let total_secs = started.elapsed().as_secs_f64();
    let db_bytes = match &postgres {
        Some(store) => flotilla_fleetgen::postgres::database_bytes(store)?,
        None => std::fs::metadata(crate::config::database_path(data_dir))?.len(),
    };
    let summary = serde_json::json!({
        "models": report.models,
        "versions": report.versions,
        "model_files": files.len(),
        "metadata_seconds": metadata_secs,
        "versions_per_second": report.versions as f64 / metadata_secs,
        "health_seconds": health_secs,
        "telemetry": telemetry,
        "total_seconds": total_secs,
        "database_bytes": db_bytes,
        "database_bytes_per_version": db_bytes as f64 / report.versions.max(1) as f64,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "generated {} models, {} versions in {metadata_secs:.1} s ({:.0} versions/s); {} model files; database {:.1} MiB ({:.0} bytes per version)",
            report.models,
            report.versions,
            report.versions as f64 / metadata_secs,
            files.len(),
            db_bytes as f64 / 1048576.0,
            db_bytes as f64 / report.versions.max(1) as f64
        );
    }
    Ok(())
}

fn write_files(data_dir: &Path, files: &[GeneratedVersion]) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let artifacts: Arc<dyn ArtifactStore> = Arc::new(LocalArtifactStore::new(crate::config::artifacts_path(data_dir))?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let progress = bar(files.len() as u64, "files   ");
    runtime.block_on(async {
        for (i, f) in files.iter().enumerate() {
            let dir = f.source.strip_prefix("mlflow-artifacts:/").unwrap_or(&f.source);
            for (name, body) in [("MLmodel", MLMODEL.to_string()), ("model.lgb", tiny_model(i as u64))] {
                let path = ArtifactPath::parse(&format!("{dir}/{name}"))?;
                let stream = futures_util::stream::once(async move { Ok(Bytes::from(body)) });
                artifacts.put(&path, Box::pin(stream)).await?;
            }
            progress.inc(1);
        }
        anyhow::Ok(())
    })?;
    progress.finish();
    Ok(())
}
