//! The fleet generator: fills a store with synthetic but realistic registry
//! metadata (families, a region/store hierarchy, tags, version metrics,
//! champion and challenger aliases) fast enough to try every search and
//! page at a million models.
//!
//! It writes rows directly with prepared statements in large transactions,
//! skipping the per-item checks of the bulk API (it makes every id itself),
//! and rebuilds the trigram name index once at the end. Deterministic for a
//! given seed.

use flotilla_core::fleet::{self, PartitionValue};
use flotilla_core::{Error, validation};
use rusqlite::{Transaction, params};

use super::{SqliteStore, aliases, now_ms};
use crate::error::StoreResult;

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

/// Inserts one registered model with its family membership; returns its id.
struct Writer<'a> {
    tx: &'a Transaction<'a>,
    now: i64,
}

impl Writer<'_> {
    fn model(
        &self,
        name: &str,
        created: i64,
        family: (&str, i64),
        depth: i64,
        path: &[PartitionValue],
        parent: Option<i64>,
    ) -> StoreResult<i64> {
        self.tx
            .prepare_cached("INSERT INTO registered_models (name, creation_time, last_update_time) VALUES (?, ?, ?)")?
            .execute(params![name, created, self.now])?;
        let rm_id = self.tx.last_insert_rowid();
        let mut tag =
            self.tx.prepare_cached("INSERT INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?;
        tag.execute(params![rm_id, fleet::FAMILY_TAG, family.0])?;
        tag.execute(params![rm_id, fleet::PARTITION_TAG, fleet::path_string(path)])?;
        let leaf = path.last().map_or("", |p| p.value.as_str());
        self.tx
            .prepare_cached(
                "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![rm_id, family.1, depth, leaf, parent])?;
        let mut part = self.tx.prepare_cached("INSERT INTO member_partitions (rm_id, key, value) VALUES (?, ?, ?)")?;
        for p in path {
            part.execute(params![rm_id, p.key, p.value])?;
        }
        Ok(rm_id)
    }

    fn tag(&self, rm_id: i64, key: &str, value: &str) -> StoreResult<()> {
        self.tx
            .prepare_cached("INSERT INTO registered_model_tags (rm_id, key, value) VALUES (?, ?, ?)")?
            .execute(params![rm_id, key, value])?;
        Ok(())
    }

    /// Versions 1..=k with decreasing error; returns each version's rmse.
    fn versions(
        &self,
        rng: &mut Rng,
        rm_id: i64,
        k: u32,
        created: i64,
        source: &dyn Fn(i64) -> String,
    ) -> StoreResult<Vec<f64>> {
        let mut version = self.tx.prepare_cached(
            "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, status, current_stage)
             VALUES (?, ?, ?, ?, ?, 'READY', ?)",
        )?;
        let mut metric = self
            .tx
            .prepare_cached("INSERT INTO model_version_metrics (rm_id, key, version, value) VALUES (?, ?, ?, ?)")?;
        let mut rmse = 2.0 + 3.0 * rng.unit();
        let mut all = Vec::with_capacity(k as usize);
        for v in 1..=i64::from(k) {
            let at = created + v * DAY_MS;
            let stage = if v == i64::from(k) {
                "Staging"
            } else if v == i64::from(k) - 1 {
                "Production"
            } else {
                "None"
            };
            version.execute(params![rm_id, v, at, at, source(v), stage])?;
            rmse *= 0.9 + 0.15 * rng.unit();
            metric.execute(params![rm_id, "val_rmse", v, rmse])?;
            metric.execute(params![rm_id, "val_mape", v, rmse / 20.0])?;
            all.push(rmse);
        }
        self.tx
            .prepare_cached("UPDATE registered_models SET next_version = ? WHERE rm_id = ?")?
            .execute(params![i64::from(k) + 1, rm_id])?;
        Ok(all)
    }

    fn alias(&self, batch: i64, rm_id: i64, name: &str, alias: &str, version: i64) -> StoreResult<()> {
        aliases::move_alias(self.tx, batch, rm_id, name, alias, Some(version))?;
        Ok(())
    }
}

impl SqliteStore {
    /// Generates `spec.models` store-level models (plus their family
    /// defaults and regions). `wants_file` picks the versions that get a
    /// real model file; they are returned for the caller to write, with
    /// `source` already pointing at `mlflow-artifacts:/fleet/<model>/<version>`.
    pub fn generate_fleet(
        &self,
        spec: &FleetSpec,
        wants_file: &mut dyn FnMut(u64) -> bool,
        progress: &mut dyn FnMut(u64),
    ) -> StoreResult<(GenerateReport, Vec<GeneratedVersion>)> {
        check(spec)?;
        let mut rng = Rng(spec.seed);
        let mut report = GenerateReport::default();
        let mut files = Vec::new();
        let now = now_ms();
        let year_ago = now - 365 * DAY_MS;
        // Families, their defaults and regions first, in one transaction.
        let mut regions: Vec<GeneratedFamily> = Vec::new();
        self.write_registry(|tx| {
            let w = Writer { tx, now };
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
                w.versions(&mut rng, default_rm, 1, year_ago, &|_| spec.placeholder_source.clone())?;
                let batch = aliases::open_batch(tx, &aliases::NewBatch::generated())?;
                w.alias(batch, default_rm, &name, "champion", 1)?;
                let mut rs = Vec::new();
                for r in 0..spec.regions_per_family {
                    let region = format!("r{r:03}");
                    let path = [PartitionValue::new("region", region.clone())];
                    let rm = w.model(&fleet::member_name(&name, path.last()), year_ago, (&name, family_id), 1, &path, Some(default_rm))?;
                    rs.push((region, rm));
                    report.models += 1;
                }
                report.models += 1;
                regions.push((name, family_id, rs));
            }
            Ok(())
        })?;
        let mut done = 0u64;
        while done < spec.models {
            let end = (done + MODELS_PER_TRANSACTION).min(spec.models);
            self.write_registry(|tx| {
                let w = Writer { tx, now };
                let batch = aliases::open_batch(tx, &aliases::NewBatch::generated())?;
                for i in done..end {
                    let (family, family_id, rs) = &regions[(i % regions.len() as u64) as usize];
                    let (region, region_rm) = &rs[rng.below(rs.len() as u64) as usize];
                    let store = format!("s{i:07}");
                    let path = [PartitionValue::new("region", region.clone()), PartitionValue::new("store", store)];
                    let name = fleet::member_name(family, path.last());
                    let created = year_ago + rng.below(300) as i64 * DAY_MS;
                    let rm_id = w.model(&name, created, (family, *family_id), 2, &path, Some(*region_rm))?;
                    w.tag(rm_id, "owner", OWNERS[rng.below(OWNERS.len() as u64) as usize])?;
                    w.tag(rm_id, "tier", TIERS[rng.below(TIERS.len() as u64) as usize])?;
                    let with_file = wants_file(i);
                    let source = |v: i64| {
                        if with_file {
                            format!("mlflow-artifacts:/fleet/{name}/{v}")
                        } else {
                            spec.placeholder_source.clone()
                        }
                    };
                    let rmse = w.versions(&mut rng, rm_id, spec.versions_per_model, created, &source)?;
                    if with_file {
                        for v in 1..=i64::from(spec.versions_per_model) {
                            files.push(GeneratedVersion { model: name.clone(), version: v, source: source(v) });
                        }
                    }
                    // Most stores have a champion (usually not the newest); some a challenger too.
                    let k = i64::from(spec.versions_per_model);
                    if rng.below(10) < 9 {
                        let champion = if k > 1 && rng.below(4) > 0 { k - 1 } else { k };
                        w.alias(batch, rm_id, &name, "champion", champion)?;
                        if k > 1
                            && champion < k
                            && rmse[(k - 1) as usize] < rmse[(champion - 1) as usize]
                            && rng.below(3) == 0
                        {
                            w.alias(batch, rm_id, &name, "challenger", k)?;
                        }
                    }
                    report.versions += u64::from(spec.versions_per_model);
                }
                Ok(())
            })?;
            report.models += end - done;
            done = end;
            progress(done);
        }
        self.write(|tx| {
            tx.execute_batch(
                "INSERT INTO registered_model_names (registered_model_names) VALUES ('optimize');
                 ANALYZE;",
            )?;
            Ok(())
        })?;
        Ok((report, files))
    }
}
