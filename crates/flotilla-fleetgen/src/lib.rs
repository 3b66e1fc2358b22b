//! The synthetic-fleet generator: fills a store with synthetic but realistic registry
//! metadata (families, a region/store hierarchy, tags, version metrics,
//! champion and challenger aliases) fast enough to try every search and
//! page at a million models.
//!
//! It writes rows directly in large transactions, skipping the per-item
//! checks of the bulk API (it makes every id itself), on a connection that
//! has the store to itself (the store's [`Loader`]), with a second writer
//! for the metrics and the name index (`side`). Deterministic for a given seed.
//!
//! It is a tool, not production code: it knows the SQLite schema and writes
//! the tables directly (the one crate besides the store that uses
//! `rusqlite`), through the store's small bulk-loading surface
//! ([`flotilla_store::sqlite::bulk_load`]) for what must stay the store's
//! own: opening it exclusively, dropping and rebuilding the secondary
//! indexes, and the audit batch of the generated aliases.

use flotilla_core::fleet::{self, PartitionValue};
use flotilla_core::{Error, validation};
use rusqlite::{Connection, params};

mod batched;
mod datasets;
pub mod health;
pub mod postgres;
mod side;
mod stores;
pub mod telemetry;

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use flotilla_store::StoreResult;
use flotilla_store::sqlite::bulk_load::{self, CatchUp, Loader};
use side::SideWriter;

/// What to generate.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Partition models (stores) across all families.
    pub models: u64,
    pub versions_per_model: u32,
    pub families: u32,
    pub regions_per_family: u32,
    pub seed: u64,
    /// Source URI for versions without a real model file.
    pub placeholder_source: String,
}

/// A version that should get a real model file: written by the caller.
#[derive(Debug, Clone)]
pub struct GeneratedVersion {
    pub model: String,
    pub version: i64,
    pub source: String,
}

#[derive(Debug, Clone, Default)]
pub struct GenerateReport {
    pub models: u64,
    pub versions: u64,
}

const MODELS_PER_TRANSACTION: u64 = 20_000;
const FAMILY_NAMES: [&str; 8] =
    ["demand-forecast", "churn", "pricing", "fraud", "eta", "inventory", "ranking", "anomaly"];
const OWNERS: [&str; 10] = ["ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun"];
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
const DAY_MS: i64 = 86_400_000;
/// Metric keys every generated version carries.
const VAL_RMSE: &str = "val_rmse";
const VAL_MAPE: &str = "val_mape";

/// A generated family: name, id, and its regions (name, registered-model id).
type GeneratedFamily = (String, i64, Vec<(String, i64)>);

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn family_name(i: u32) -> String {
    let base = FAMILY_NAMES[i as usize % FAMILY_NAMES.len()];
    if (i as usize) < FAMILY_NAMES.len() {
        base.to_string()
    } else {
        format!("{base}-{}", i as usize / FAMILY_NAMES.len())
    }
}

fn check(spec: &FleetSpec) -> StoreResult<()> {
    if spec.families == 0 || spec.regions_per_family == 0 || spec.versions_per_model == 0 {
        return Err(Error::invalid("families, regions per family and versions per model must be at least 1").into());
    }
    if spec.versions_per_model > 1000 {
        return Err(Error::invalid("at most 1000 versions per model").into());
    }
    Ok(())
}

/// Writes the families' own models (defaults and regions, a few hundred
/// rows), with the triggers in place, one row per statement.
struct Writer<'a> {
    tx: &'a Connection,
    now: i64,
}

impl Writer<'_> {
    fn tag(&self, rm_id: i64, key: &str, value: &str) -> StoreResult<()> {
        self.tx
            .prepare_cached("INSERT INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?
            .execute(params![rm_id, key, value])?;
        Ok(())
    }

    /// A registered model in a family, with its tags and partition levels;
    /// `next_version` is set for the versions to come.
    fn model(
        &self,
        name: &str,
        created: i64,
        family: (&str, i64),
        path: &[PartitionValue],
        parent: Option<i64>,
        versions: u32,
    ) -> StoreResult<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO registered_models (name, creation_time, last_update_time, next_version) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![name, created, self.now, i64::from(versions) + 1])?;
        let rm_id = self.tx.last_insert_rowid();
        self.tag(rm_id, fleet::FAMILY_TAG, family.0)?;
        self.tag(rm_id, fleet::PARTITION_TAG, &fleet::path_string(path))?;
        let leaf = path.last().map_or("", |p| p.value.as_str());
        self.tx
            .prepare_cached(
                "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![rm_id, family.1, path.len() as i64, leaf, parent])?;
        for p in path {
            self.tx
                .prepare_cached("INSERT INTO member_partitions (rm_id, key, value) VALUES (?, ?, ?)")?
                .execute(params![rm_id, p.key, p.value])?;
        }
        Ok(rm_id)
    }

    /// Versions 1..=k with decreasing error.
    fn versions(&self, rng: &mut Rng, rm_id: i64, k: u32, created: i64, source: &str) -> StoreResult<()> {
        let k = i64::from(k);
        let mut rmse = 2.0 + 3.0 * rng.unit();
        for v in 1..=k {
            let at = created + v * DAY_MS;
            self.tx
                .prepare_cached(
                    "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, current_stage)
                     VALUES (?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![rm_id, v, at, at, source, Stage::of(v, k).name()])?;
            rmse *= 0.9 + 0.15 * rng.unit();
            for (key, value) in [(VAL_RMSE, rmse), (VAL_MAPE, rmse / 20.0)] {
                self.tx
                    .prepare_cached(
                        "INSERT INTO model_version_metrics (rm_id, key, version, value) VALUES (?, ?, ?, ?)",
                    )?
                    .execute(params![rm_id, key, v, value])?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Stage {
    None,
    Production,
    Staging,
}

impl Stage {
    const ALL: [Stage; 3] = [Stage::None, Stage::Production, Stage::Staging];

    /// Version `v` of `k`: the newest is in staging, the one before in production.
    fn of(v: i64, k: i64) -> Self {
        if v == k {
            Self::Staging
        } else if v == k - 1 {
            Self::Production
        } else {
            Self::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Production => "Production",
            Self::Staging => "Staging",
        }
    }
}

/// The facet counts of one family's generated stores (what the triggers of
/// migration 3 would have counted, row by row).
#[derive(Default)]
struct FamilyCounts {
    members: i64,
    stages: [i64; 3],
    champion: i64,
    challenger: i64,
    owners: [i64; OWNERS.len()],
    tiers: [i64; TIERS.len()],
}

/// The tallied counts as `facet_counts` rows `(scope, dim, value, n)`, in
/// each family's scope and the registry's (scope 0).
fn facet_count_rows(families: &[GeneratedFamily], counts: &[FamilyCounts]) -> Vec<(i64, String, String, i64)> {
    let mut out = Vec::new();
    let mut models = 0;
    for ((name, family_id, _), c) in families.iter().zip(counts) {
        models += c.members;
        let mut rows: Vec<(String, String, i64)> = vec![
            ("family".into(), family_id.to_string(), c.members),
            (format!("tag:{}", fleet::FAMILY_TAG), name.clone(), c.members),
            ("alias".into(), "champion".into(), c.champion),
            ("alias".into(), "challenger".into(), c.challenger),
        ];
        rows.extend(Stage::ALL.iter().map(|s| ("stage".into(), s.name().into(), c.stages[*s as usize])));
        rows.extend(OWNERS.iter().zip(c.owners).map(|(o, n)| ("tag:owner".into(), o.to_string(), n)));
        rows.extend(TIERS.iter().zip(c.tiers).map(|(t, n)| ("tag:tier".into(), t.to_string(), n)));
        for (dim, value, n) in rows.into_iter().filter(|(_, _, n)| *n > 0) {
            for scope in [0, *family_id] {
                out.push((scope, dim.clone(), value.clone(), n));
            }
        }
    }
    out.push((0, "models".into(), String::new(), models));
    out
}

/// Adds the tallied counts to `facet_counts`, in the family's scope and the registry's.
fn add_facet_counts(tx: &Connection, families: &[GeneratedFamily], counts: &[FamilyCounts]) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO facet_counts (scope, dim, value, n) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope, dim, value) DO UPDATE SET n = n + excluded.n",
    )?;
    for (scope, dim, value, n) in facet_count_rows(families, counts) {
        stmt.execute(params![scope, dim, value, n])?;
    }
    Ok(())
}

/// Generates `spec.models` store-level models (plus their family
/// defaults and regions) into the store at `path`, which it needs to
/// itself (see [`Loader`]). `wants_file` picks the versions that get a
/// real model file; they are returned for the caller to write, with
/// `source` already pointing at `mlflow-artifacts:/fleet/<model>/<version>`.
pub fn generate_fleet(
    path: &Path,
    spec: &FleetSpec,
    wants_file: &mut dyn FnMut(u64) -> bool,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<(GenerateReport, Vec<GeneratedVersion>)> {
    check(spec)?;
    let mut loader = Loader::open(path)?;
    let mut rng = Rng(spec.seed);
    let mut report = GenerateReport::default();
    let now = now_ms();
    let year_ago = now - 365 * DAY_MS;
    // Families, their defaults and regions first, in one transaction.
    let regions = loader.write(|tx| {
        let w = Writer { tx, now };
        let mut regions: Vec<GeneratedFamily> = Vec::new();
        for f in 0..spec.families {
            let name = family_name(f);
            validation::model_name(&name)?;
            let levels = serde_json::to_string(&["region", "store"]).map_err(|e| Error::internal(e.to_string()))?;
            tx.prepare_cached(
                "INSERT INTO registered_models (name, creation_time, last_update_time) VALUES (?, ?, ?)",
            )?
            .execute(params![name, year_ago, now])?;
            let default_rm = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO families (name, levels, description, creation_time, default_rm_id) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![name, levels, "generated", year_ago, default_rm])?;
            let family_id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO fleet_members (rm_id, family_id, depth, part_value) VALUES (?, ?, 0, '')")?
                .execute(params![default_rm, family_id])?;
            w.tag(default_rm, fleet::FAMILY_TAG, &name)?;
            w.tag(default_rm, fleet::PARTITION_TAG, "")?;
            w.versions(&mut rng, default_rm, 1, year_ago, &spec.placeholder_source)?;
            tx.prepare_cached("UPDATE registered_models SET next_version = 2 WHERE rm_id = ?")?
                .execute([default_rm])?;
            let batch = bulk_load::open_generated_batch(tx)?;
            bulk_load::insert_aliases(tx, batch, default_rm, &name, &[("champion", 1)])?;
            let mut rs = Vec::new();
            for r in 0..spec.regions_per_family {
                let region = format!("r{r:03}");
                let path = [PartitionValue::new("region", region.clone())];
                let rm = w.model(
                    &fleet::member_name(&name, path.last()),
                    year_ago,
                    (&name, family_id),
                    &path,
                    Some(default_rm),
                    0,
                )?;
                rs.push((region, rm));
                report.models += 1;
            }
            report.models += 1;
            regions.push((name, family_id, rs));
        }
        Ok(regions)
    })?;
    // The families above were written with every trigger in place; the
    // stores below are loaded without secondary indexes and triggers
    // (see `bulk_load`), their facet counts tallied here instead.
    let first_id: i64 = loader
        .write(|tx| Ok(tx.query_row("SELECT coalesce(max(rm_id), 0) + 1 FROM registered_models", [], |r| r.get(0))?))?;
    // The datasets the stores are trained on (see `datasets`).
    let first_ds = loader.write(|tx| {
        let first: i64 = tx.query_row("SELECT coalesce(max(ds_id), 0) + 1 FROM dataset_entities", [], |r| r.get(0))?;
        let plan = datasets::DatasetPlan::new(first, spec.models, i64::from(spec.versions_per_model), spec.seed);
        datasets::insert_shared(tx, &plan, year_ago)?;
        Ok(plan)
    })?;
    let plan = stores::Plan {
        draws: stores::DrawPlan {
            seed: spec.seed,
            models: spec.models,
            versions_per_model: i64::from(spec.versions_per_model),
            regions_per_family: u64::from(spec.regions_per_family),
            year_ago,
            first_id,
        },
        families: &regions,
        now,
        placeholder_source: &spec.placeholder_source,
        datasets: first_ds,
    };
    let side = loader.write(|tx| {
        let families = regions.iter().map(|(name, _, _)| name.clone()).collect();
        let side = SideWriter::start(tx, path, side::SideLoad { plan: plan.draws, families })?;
        bulk_load::begin(tx)?;
        Ok(side)
    })?;
    let mut tally = stores::Tally {
        counts: regions.iter().map(|_| FamilyCounts::default()).collect(),
        files: Vec::new(),
        shared: datasets::SharedTally::default(),
    };
    let started = Instant::now();
    let mut done = 0u64;
    while done < spec.models {
        let end = (done + MODELS_PER_TRANSACTION).min(spec.models);
        loader.write(|tx| {
            let batch = bulk_load::open_generated_batch(tx)?;
            let mut inserts = stores::StoreInserts::prepare(tx)?;
            for i in done..end {
                inserts.store(&plan, &mut tally, i, batch, wants_file(i))?;
            }
            inserts.finish()
        })?;
        report.models += end - done;
        done = end;
        progress(done);
    }
    report.versions = spec.models * u64::from(spec.versions_per_model);
    let rows_written = Instant::now();
    // This writer's indexes and counts while the second writer finishes.
    loader.write(|tx| {
        let later: Vec<&str> = side::PENDING_UNTIL_COPIED.iter().chain(bulk_load::METRIC_PAIRS).copied().collect();
        bulk_load::finish_except(tx, CatchUp::ByLoader, &later)?;
        datasets::finish_shared(tx, &tally.shared)?;
        add_facet_counts(tx, &regions, &tally.counts)
    })?;
    let indexed_here = Instant::now();
    let scratch = side.finish()?;
    let waited = indexed_here.elapsed();
    let copied = loader.write_attached(&scratch, "side", |tx| {
        // The metric pairs' triggers stay off through the copy (SQLite's
        // transfer optimization needs a table without triggers); the pairs
        // are then made from the copied tables.
        bulk_load::finish_except(tx, CatchUp::ByLoader, bulk_load::METRIC_PAIRS)?;
        let copying = Instant::now();
        SideWriter::copy_attached(tx)?;
        bulk_load::finish(tx, CatchUp::ByLoader)?;
        tracing::debug!(
            waited_seconds = waited.as_secs_f64(),
            copied_seconds = copying.elapsed().as_secs_f64(),
            "copied the second writer's tables"
        );
        Ok(())
    });
    side::remove_scratch(&scratch)?;
    copied?;
    let indexed = Instant::now();
    loader.write(|tx| Ok(tx.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")?))?;
    loader.close()?;
    tracing::info!(
        rows_seconds = (rows_written - started).as_secs_f64(),
        index_seconds = (indexed - rows_written).as_secs_f64(),
        analyze_seconds = indexed.elapsed().as_secs_f64(),
        "generated fleet"
    );
    Ok((report, tally.files))
}
