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
use rusqlite::types::Value as SqlValue;
use rusqlite::{Transaction, params, params_from_iter};

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
/// Models whose generated aliases get audit events (enough for every page
/// and report to have history to show, without a million synthetic rows).
const AUDITED_MODELS: u64 = 10_000;
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

/// `INSERT ... VALUES (?, ...), (?, ...)` for `rows` rows of `width` columns.
fn multi_row(head: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!("{head} VALUES {}", vec![row; rows].join(", "))
}

impl Writer<'_> {
    fn insert(&self, head: &str, width: usize, args: &[SqlValue]) -> StoreResult<()> {
        if !args.is_empty() {
            self.tx.prepare_cached(&multi_row(head, width, args.len() / width))?.execute(params_from_iter(args))?;
        }
        Ok(())
    }

    /// A registered model in a family, with its tags and partition levels,
    /// in four statements; `next_version` is set for the versions to come.
    #[allow(clippy::too_many_arguments)]
    fn model(
        &self,
        name: &str,
        created: i64,
        family: (&str, i64),
        depth: i64,
        path: &[PartitionValue],
        parent: Option<i64>,
        tags: &[(&str, &str)],
        versions: u32,
    ) -> StoreResult<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO registered_models (name, creation_time, last_update_time, next_version) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![name, created, self.now, i64::from(versions) + 1])?;
        let rm_id = self.tx.last_insert_rowid();
        let path_text = fleet::path_string(path);
        let mut args: Vec<SqlValue> = Vec::with_capacity(3 * (2 + tags.len()));
        for (key, value) in
            [(fleet::FAMILY_TAG, family.0), (fleet::PARTITION_TAG, path_text.as_str())].iter().chain(tags)
        {
            args.extend([rm_id.into(), SqlValue::from(key.to_string()), SqlValue::from(value.to_string())]);
        }
        self.insert("INSERT INTO registered_model_tags (rm_id, key, value)", 3, &args)?;
        let leaf = path.last().map_or("", |p| p.value.as_str());
        self.tx
            .prepare_cached(
                "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES (?, ?, ?, ?, ?)",
            )?
            .execute(params![rm_id, family.1, depth, leaf, parent])?;
        let mut args: Vec<SqlValue> = Vec::with_capacity(3 * path.len());
        for p in path {
            args.extend([rm_id.into(), SqlValue::from(p.key.clone()), SqlValue::from(p.value.clone())]);
        }
        self.insert("INSERT INTO member_partitions (rm_id, key, value)", 3, &args)?;
        Ok(rm_id)
    }

    /// Versions 1..=k with decreasing error, in two statements; returns each version's rmse.
    fn versions(
        &self,
        rng: &mut Rng,
        rm_id: i64,
        k: u32,
        created: i64,
        source: &dyn Fn(i64) -> String,
    ) -> StoreResult<Vec<f64>> {
        let mut versions: Vec<SqlValue> = Vec::with_capacity(6 * k as usize);
        let mut metrics: Vec<SqlValue> = Vec::with_capacity(8 * k as usize);
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
            versions.extend([rm_id.into(), v.into(), at.into(), at.into(), source(v).into(), stage.to_string().into()]);
            rmse *= 0.9 + 0.15 * rng.unit();
            metrics.extend([rm_id.into(), "val_rmse".to_string().into(), v.into(), rmse.into()]);
            metrics.extend([rm_id.into(), "val_mape".to_string().into(), v.into(), (rmse / 20.0).into()]);
            all.push(rmse);
        }
        self.insert(
            "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, current_stage)",
            6,
            &versions,
        )?;
        self.insert("INSERT INTO model_version_metrics (rm_id, key, version, value)", 4, &metrics)?;
        Ok(all)
    }
}

/// Models whose rows are written together: one multi-row `INSERT` per
/// table (at most a few hundred rows of six columns, well under SQLite's
/// 32,766 parameters), parents before children.
const MODELS_PER_FLUSH: u64 = 64;

/// Rows of one table, buffered until the next flush.
struct Table {
    head: &'static str,
    width: usize,
    values: Vec<SqlValue>,
}

impl Table {
    fn new(head: &'static str, width: usize) -> Self {
        Self { head, width, values: Vec::new() }
    }

    fn push<const N: usize>(&mut self, row: [SqlValue; N]) {
        debug_assert_eq!(N, self.width);
        self.values.extend(row);
    }

    fn flush(&mut self, tx: &Transaction<'_>) -> StoreResult<()> {
        if !self.values.is_empty() {
            let rows = self.values.len() / self.width;
            tx.prepare_cached(&multi_row(self.head, self.width, rows))?
                .execute(params_from_iter(self.values.drain(..)))?;
        }
        Ok(())
    }
}

/// Every table a store-level model writes to.
struct Tables {
    models: Table,
    tags: Table,
    members: Table,
    partitions: Table,
    versions: Table,
    metrics: Table,
    aliases: Table,
    alias_metrics: Table,
    events: Table,
}

impl Tables {
    fn new() -> Self {
        Self {
            models: Table::new(
                "INSERT INTO registered_models (rm_id, name, creation_time, last_update_time, next_version)",
                5,
            ),
            tags: Table::new("INSERT INTO registered_model_tags (rm_id, key, value)", 3),
            members: Table::new("INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent)", 5),
            partitions: Table::new("INSERT INTO member_partitions (rm_id, key, value)", 3),
            versions: Table::new(
                "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, current_stage)",
                6,
            ),
            metrics: Table::new("INSERT INTO model_version_metrics (rm_id, key, version, value)", 4),
            aliases: Table::new("INSERT INTO registered_model_aliases (rm_id, alias, version)", 3),
            alias_metrics: Table::new("INSERT INTO alias_metrics (rm_id, alias, key, value)", 4),
            events: Table::new("INSERT INTO alias_events (batch_id, rm_id, model_name, alias, to_version)", 5),
        }
    }

    /// Writes what is buffered, parents before children (foreign keys).
    fn flush(&mut self, tx: &Transaction<'_>) -> StoreResult<()> {
        for t in [
            &mut self.models,
            &mut self.tags,
            &mut self.members,
            &mut self.partitions,
            &mut self.versions,
            &mut self.metrics,
            &mut self.aliases,
            &mut self.alias_metrics,
            &mut self.events,
        ] {
            t.flush(tx)?;
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

/// Adds the tallied counts to `facet_counts`, in the family's scope and the registry's.
fn add_facet_counts(tx: &Transaction<'_>, families: &[GeneratedFamily], counts: &[FamilyCounts]) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO facet_counts (scope, dim, value, n) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope, dim, value) DO UPDATE SET n = n + excluded.n",
    )?;
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
                stmt.execute(params![scope, dim, value, n])?;
            }
        }
    }
    stmt.execute(params![0, "models", "", models])?;
    Ok(())
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
        // The writer gets a large page cache while loading.
        // No checkpoints while loading: the WAL is copied into the database once, at the end.
        self.pause_checkpoints();
        self.write(|tx| Ok(tx.execute_batch("PRAGMA cache_size = -262144;")?))?;
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
                w.insert(
                    "INSERT INTO registered_model_tags (rm_id, key, value)",
                    3,
                    &[
                        default_rm.into(),
                        fleet::FAMILY_TAG.to_string().into(),
                        name.clone().into(),
                        default_rm.into(),
                        fleet::PARTITION_TAG.to_string().into(),
                        String::new().into(),
                    ],
                )?;
                w.versions(&mut rng, default_rm, 1, year_ago, &|_| spec.placeholder_source.clone())?;
                tx.prepare_cached("UPDATE registered_models SET next_version = 2 WHERE rm_id = ?")?.execute([default_rm])?;
                let batch = aliases::open_batch(tx, &aliases::NewBatch::generated())?;
                aliases::insert_fresh(tx, Some(batch), default_rm, &name, &[("champion", 1)])?;
                let mut rs = Vec::new();
                for r in 0..spec.regions_per_family {
                    let region = format!("r{r:03}");
                    let path = [PartitionValue::new("region", region.clone())];
                    let rm = w.model(&fleet::member_name(&name, path.last()), year_ago, (&name, family_id), 1, &path, Some(default_rm), &[], 0)?;
                    rs.push((region, rm));
                    report.models += 1;
                }
                report.models += 1;
                regions.push((name, family_id, rs));
            }
            Ok(())
        })?;
        // The families above were written with every trigger in place; the
        // stores below are loaded without secondary indexes and triggers
        // (see `bulk_load`), their facet counts tallied here instead.
        self.write(|tx| super::bulk_load::begin(tx))?;
        let mut counts: Vec<FamilyCounts> = regions.iter().map(|_| FamilyCounts::default()).collect();
        let mut next_id: i64 = self.read(|tx| {
            Ok(tx.query_row("SELECT coalesce(max(rm_id), 0) + 1 FROM registered_models", [], |r| r.get(0))?)
        })?;
        let mut tables = Tables::new();
        let k = i64::from(spec.versions_per_model);
        let mut done = 0u64;
        while done < spec.models {
            let end = (done + MODELS_PER_TRANSACTION).min(spec.models);
            self.write_registry(|tx| {
                let batch = aliases::open_batch(tx, &aliases::NewBatch::generated())?;
                for i in done..end {
                    let f = (i % regions.len() as u64) as usize;
                    let (family, family_id, rs) = &regions[f];
                    let (region, region_rm) = &rs[rng.below(rs.len() as u64) as usize];
                    let store = format!("s{i:07}");
                    let name = format!("{family}.store={store}");
                    let created = year_ago + rng.below(300) as i64 * DAY_MS;
                    let owner = rng.below(OWNERS.len() as u64) as usize;
                    let tier = rng.below(TIERS.len() as u64) as usize;
                    let rm_id = next_id;
                    next_id += 1;
                    let c = &mut counts[f];
                    c.members += 1;
                    c.owners[owner] += 1;
                    c.tiers[tier] += 1;
                    let t = &mut tables;
                    t.models.push([rm_id.into(), name.clone().into(), created.into(), now.into(), (k + 1).into()]);
                    for (key, value) in [
                        (fleet::FAMILY_TAG, family.clone()),
                        (fleet::PARTITION_TAG, format!("region={region}/store={store}")),
                        ("owner", OWNERS[owner].to_string()),
                        ("tier", TIERS[tier].to_string()),
                    ] {
                        t.tags.push([rm_id.into(), key.to_string().into(), value.into()]);
                    }
                    t.members.push([
                        rm_id.into(),
                        (*family_id).into(),
                        2.into(),
                        store.clone().into(),
                        (*region_rm).into(),
                    ]);
                    t.partitions.push([rm_id.into(), "region".to_string().into(), region.clone().into()]);
                    t.partitions.push([rm_id.into(), "store".to_string().into(), store.into()]);
                    let with_file = wants_file(i);
                    // Versions 1..=k with decreasing error.
                    let mut rmse = 2.0 + 3.0 * rng.unit();
                    let mut all = Vec::with_capacity(k as usize);
                    for v in 1..=k {
                        let at = created + v * DAY_MS;
                        let stage = if v == k {
                            Stage::Staging
                        } else if v == k - 1 {
                            Stage::Production
                        } else {
                            Stage::None
                        };
                        c.stages[stage as usize] += 1;
                        let source = if with_file {
                            let source = format!("mlflow-artifacts:/fleet/{name}/{v}");
                            files.push(GeneratedVersion { model: name.clone(), version: v, source: source.clone() });
                            source
                        } else {
                            spec.placeholder_source.clone()
                        };
                        t.versions.push([
                            rm_id.into(),
                            v.into(),
                            at.into(),
                            at.into(),
                            source.into(),
                            stage.name().to_string().into(),
                        ]);
                        rmse *= 0.9 + 0.15 * rng.unit();
                        t.metrics.push([rm_id.into(), "val_rmse".to_string().into(), v.into(), rmse.into()]);
                        t.metrics.push([rm_id.into(), "val_mape".to_string().into(), v.into(), (rmse / 20.0).into()]);
                        all.push(rmse);
                    }
                    // Most stores have a champion (usually not the newest); some a challenger too.
                    if rng.below(10) < 9 {
                        let champion = if k > 1 && rng.below(4) > 0 { k - 1 } else { k };
                        let challenger = k > 1
                            && champion < k
                            && all[(k - 1) as usize] < all[(champion - 1) as usize]
                            && rng.below(3) == 0;
                        let set: &[(&str, i64)] = if challenger {
                            c.challenger += 1;
                            &[("champion", champion), ("challenger", k)]
                        } else {
                            &[("champion", champion)]
                        };
                        c.champion += 1;
                        for (alias, version) in set {
                            t.aliases.push([rm_id.into(), alias.to_string().into(), (*version).into()]);
                            let value = all[(*version - 1) as usize];
                            for (key, value) in [("val_mape", value / 20.0), ("val_rmse", value)] {
                                t.alias_metrics.push([
                                    rm_id.into(),
                                    alias.to_string().into(),
                                    key.to_string().into(),
                                    value.into(),
                                ]);
                            }
                            if i < AUDITED_MODELS {
                                t.events.push([
                                    batch.into(),
                                    rm_id.into(),
                                    name.clone().into(),
                                    alias.to_string().into(),
                                    (*version).into(),
                                ]);
                            }
                        }
                    }
                    report.versions += u64::from(spec.versions_per_model);
                    if (i + 1) % MODELS_PER_FLUSH == 0 {
                        tables.flush(tx)?;
                    }
                }
                tables.flush(tx)
            })?;
            report.models += end - done;
            done = end;
            progress(done);
        }
        let rows_written = std::time::Instant::now();
        self.write(|tx| {
            super::bulk_load::finish(tx, false)?;
            add_facet_counts(tx, &regions, &counts)
        })?;
        let indexed = std::time::Instant::now();
        self.write(|tx| {
            Ok(tx.execute_batch(&format!(
                "PRAGMA cache_size = -{}; PRAGMA analysis_limit = 1000; ANALYZE;",
                super::WRITER_CACHE_KIB
            ))?)
        })?;
        self.checkpoint()?;
        tracing::info!(
            index_seconds = (indexed - rows_written).as_secs_f64(),
            analyze_seconds = indexed.elapsed().as_secs_f64(),
            "generated fleet indexed"
        );
        Ok((report, files))
    }
}
