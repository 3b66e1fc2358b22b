//! The synthetic fleet on PostgreSQL: the same registry as [`crate::generate_fleet`]
//! makes on SQLite for the same seed (the store-level rows come from the same
//! draws, [`stores::store_rows`] and [`stores::metric_rows`]), loaded with
//! `COPY` through the store's [`PgLoader`]. The families' few rows go in
//! with every trigger in place; the stores' rows with the row triggers of
//! their tables off inside each load transaction (`ALTER TABLE` is
//! transactional, so no other session ever sees them off), their facet
//! counts added from the tally in the same transaction and the registry
//! notification sent once, as the triggers would have: new models have no
//! health rows or runs, so the health and lineage triggers had nothing to do.
//! The lineage is the SQLite generator's too (`datasets`); health and
//! telemetry are generated on SQLite only.

use flotilla_core::fleet::{self, PartitionValue};
use flotilla_core::{Error, validation};
use flotilla_store::StoreResult;
use flotilla_store::postgres::PgStore;
use flotilla_store::postgres::bulk_load::{CopyRows, CopyValue, LoadTx, PgLoader};

use super::batched::Cell;
use super::datasets::{DatasetPlan, SharedTally, dataset_rows};
use super::stores::{self, RowSink, Table, Tally};
use super::{
    DAY_MS, FamilyCounts, FleetSpec, GenerateReport, GeneratedFamily, GeneratedVersion, Rng, VAL_MAPE, VAL_RMSE,
};

/// Stores per transaction (each a `COPY` per table).
const MODELS_PER_TRANSACTION: u64 = 20_000;

/// The tables in the order their rows are copied: parents before children,
/// a model's membership before what counts in its family.
const COPY_ORDER: [Table; 12] = [
    Table::Model,
    Table::Member,
    Table::Partition,
    Table::Tag,
    Table::Version,
    Table::VersionMetric,
    Table::DatasetEntity,
    Table::DatasetVersion,
    Table::DatasetFamilyCount,
    Table::Alias,
    Table::AliasMetric,
    Table::Event,
];

/// The tables whose row triggers are off while the stores are copied.
const TRIGGERED_TABLES: [&str; 6] = [
    "registered_models",
    "fleet_members",
    "registered_model_tags",
    "model_versions",
    "registered_model_aliases",
    "dataset_versions",
];

/// One transaction's rows, per table.
struct CopyBuffers {
    rows: [CopyRows; COPY_ORDER.len()],
}

impl CopyBuffers {
    fn new() -> Self {
        Self { rows: std::array::from_fn(|_| CopyRows::default()) }
    }

    fn copy_all(&mut self, tx: &mut LoadTx<'_>) -> StoreResult<()> {
        for (table, rows) in COPY_ORDER.iter().zip(&mut self.rows) {
            tx.copy(table.target(), rows)?;
        }
        Ok(())
    }
}

impl RowSink for CopyBuffers {
    fn row<const N: usize>(&mut self, table: Table, cells: [Cell; N]) -> StoreResult<()> {
        let at = COPY_ORDER.iter().position(|t| *t == table).unwrap_or_default();
        let fields: [CopyValue<'_>; N] = std::array::from_fn(|i| match &cells[i] {
            Cell::Int(v) => CopyValue::Int(*v),
            Cell::Real(v) => CopyValue::Float(*v),
            Cell::Text(v) => CopyValue::Text(v),
            Cell::Owned(v) => CopyValue::Text(v),
        });
        self.rows[at].push(&fields);
        Ok(())
    }
}

/// Generates `spec.models` store-level models (plus their family defaults
/// and regions) into the PostgreSQL store, as [`crate::generate_fleet`] does
/// into a SQLite one; `wants_file` and the returned versions likewise.
pub fn generate_fleet_postgres(
    store: &PgStore,
    spec: &FleetSpec,
    wants_file: &mut dyn FnMut(u64) -> bool,
    progress: &mut dyn FnMut(u64),
) -> StoreResult<(GenerateReport, Vec<GeneratedVersion>)> {
    super::check(spec)?;
    let mut loader = store.loader()?;
    let mut rng = Rng(spec.seed);
    let mut report = GenerateReport::default();
    let now = super::now_ms();
    let year_ago = now - 365 * DAY_MS;
    let families: Vec<GeneratedFamily> = loader.write(|tx| {
        (0..spec.families).map(|f| family(tx, &mut rng, spec, f, (year_ago, now), &mut report)).collect()
    })?;
    let first_id = loader.write(|tx| tx.query_i64("SELECT coalesce(max(rm_id), 0) + 1 FROM registered_models", &[]))?;
    let datasets = loader.write(|tx| {
        let first = tx.query_i64("SELECT coalesce(max(ds_id), 0) + 1 FROM dataset_entities", &[])?;
        let plan = DatasetPlan::new(first, spec.models, i64::from(spec.versions_per_model), spec.seed);
        for (ds, name, digest, source, at) in super::datasets::shared_datasets(&plan, year_ago) {
            tx.execute(
                "INSERT INTO dataset_entities (ds_id, name, digest, source_type, source, creation_time)
                 VALUES ($1, $2, $3, 's3', $4, $5)",
                &[&ds, &name, &digest, &source, &at],
            )?;
        }
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
        families: &families,
        now,
        placeholder_source: &spec.placeholder_source,
        datasets,
    };
    let mut tally = Tally {
        counts: families.iter().map(|_| FamilyCounts::default()).collect(),
        files: Vec::new(),
        shared: SharedTally::default(),
    };
    let mut buffers = CopyBuffers::new();
    let mut done = 0u64;
    while done < spec.models {
        let end = (done + MODELS_PER_TRANSACTION).min(spec.models);
        tally.counts.iter_mut().for_each(|c| *c = FamilyCounts::default());
        tally.shared = SharedTally::default();
        loader.write(|tx| {
            let batch = open_batch(tx, now)?;
            for i in done..end {
                let s = stores::store_rows(&plan, &mut tally, i, batch, wants_file(i), &mut buffers)?;
                let ids = (s.rm_id, s.family_id, s.created);
                dataset_rows(&plan.datasets, &mut tally.shared, i, &s.partition, ids, &mut buffers)?;
                stores::metric_rows(&plan.draws.draw(i), &mut buffers)?;
            }
            set_row_triggers(tx, "DISABLE")?;
            buffers.copy_all(tx)?;
            set_row_triggers(tx, "ENABLE")?;
            for (scope, dim, value, n) in super::facet_count_rows(&families, &tally.counts) {
                tx.execute(
                    "INSERT INTO facet_counts (scope, dim, value, n) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + excluded.n",
                    &[&scope, &dim, &value, &n],
                )?;
            }
            for ((ds, family), n) in tally.shared.counts() {
                tx.execute(
                    "INSERT INTO dataset_family_counts (ds_id, family_id, versions) VALUES ($1, $2, $3)
                     ON CONFLICT (ds_id, family_id) DO UPDATE SET versions = dataset_family_counts.versions + excluded.versions",
                    &[&ds, &family, &n],
                )?;
                tx.execute("UPDATE dataset_entities SET version_count = version_count + $1 WHERE ds_id = $2", &[&n, &ds])?;
            }
            tx.execute("SELECT pg_notify('flotilla_registry', '')", &[])?;
            Ok(())
        })?;
        report.models += end - done;
        done = end;
        progress(done);
    }
    report.versions = spec.models * u64::from(spec.versions_per_model);
    finish(&mut loader)?;
    Ok((report, tally.files))
}

/// Family `f`: its default model (one version, the champion) and its regions.
fn family(
    tx: &mut LoadTx<'_>,
    rng: &mut Rng,
    spec: &FleetSpec,
    f: u32,
    (year_ago, now): (i64, i64),
    report: &mut GenerateReport,
) -> StoreResult<GeneratedFamily> {
    let name = super::family_name(f);
    validation::model_name(&name)?;
    let levels = serde_json::to_string(&["region", "store"]).map_err(|e| Error::internal(e.to_string()))?;
    let default_rm = tx.query_i64(
        "INSERT INTO registered_models (name, creation_time, last_update_time, next_version) VALUES ($1, $2, $3, 2)
         RETURNING rm_id",
        &[&name, &year_ago, &now],
    )?;
    let family_id = tx.query_i64(
        "INSERT INTO families (name, levels, description, creation_time, default_rm_id)
         VALUES ($1, $2, 'generated', $3, $4) RETURNING family_id",
        &[&name, &levels, &year_ago, &default_rm],
    )?;
    member(tx, default_rm, family_id, &[], None)?;
    tags(tx, default_rm, &name, "")?;
    // The same draws as the SQLite writer's one version with decreasing error.
    let rmse = (2.0 + 3.0 * rng.unit()) * (0.9 + 0.15 * rng.unit());
    let at = year_ago + DAY_MS;
    tx.execute(
        "INSERT INTO model_versions (rm_id, version, creation_time, last_update_time, source, current_stage)
         VALUES ($1, 1, $2, $2, $3, 'Staging')",
        &[&default_rm, &at, &spec.placeholder_source],
    )?;
    for (key, value) in [(VAL_RMSE, rmse), (VAL_MAPE, rmse / 20.0)] {
        tx.execute(
            "INSERT INTO model_version_metrics (rm_id, key, version, value) VALUES ($1, $2, 1, $3)",
            &[&default_rm, &key, &value],
        )?;
        tx.execute(
            "INSERT INTO alias_metrics (rm_id, alias, key, value) VALUES ($1, 'champion', $2, $3)",
            &[&default_rm, &key, &value],
        )?;
    }
    tx.execute(
        "INSERT INTO registered_model_aliases (rm_id, alias, version) VALUES ($1, 'champion', 1)",
        &[&default_rm],
    )?;
    let batch = open_batch(tx, now)?;
    tx.execute(
        "INSERT INTO alias_events (batch_id, rm_id, model_name, alias, to_version) VALUES ($1, $2, $3, 'champion', 1)",
        &[&batch, &default_rm, &name],
    )?;
    let mut regions = Vec::new();
    for r in 0..spec.regions_per_family {
        let region = format!("r{r:03}");
        let path = [PartitionValue::new("region", region.clone())];
        let member_name = fleet::member_name(&name, path.last());
        let rm = tx.query_i64(
            "INSERT INTO registered_models (name, creation_time, last_update_time) VALUES ($1, $2, $3) RETURNING rm_id",
            &[&member_name, &year_ago, &now],
        )?;
        member(tx, rm, family_id, &path, Some(default_rm))?;
        tags(tx, rm, &name, &fleet::path_string(&path))?;
        regions.push((region, rm));
        report.models += 1;
    }
    report.models += 1;
    Ok((name, family_id, regions))
}

fn member(
    tx: &mut LoadTx<'_>,
    rm_id: i64,
    family_id: i64,
    path: &[PartitionValue],
    parent: Option<i64>,
) -> StoreResult<()> {
    let leaf = path.last().map_or("", |p| p.value.as_str());
    tx.execute(
        "INSERT INTO fleet_members (rm_id, family_id, depth, part_value, parent) VALUES ($1, $2, $3, $4, $5)",
        &[&rm_id, &family_id, &(path.len() as i64), &leaf, &parent],
    )?;
    for p in path {
        tx.execute(
            "INSERT INTO member_partitions (rm_id, key, value) VALUES ($1, $2, $3)",
            &[&rm_id, &p.key, &p.value],
        )?;
    }
    Ok(())
}

fn tags(tx: &mut LoadTx<'_>, rm_id: i64, family: &str, path: &str) -> StoreResult<()> {
    for (key, value) in [(fleet::FAMILY_TAG, family), (fleet::PARTITION_TAG, path)] {
        tx.execute(
            "INSERT INTO registered_model_tags (rm_id, key, value) VALUES ($1, $2, $3)",
            &[&rm_id, &key, &value],
        )?;
    }
    Ok(())
}

/// Turns the user triggers of [`TRIGGERED_TABLES`] off or on (`"DISABLE"`, `"ENABLE"`).
fn set_row_triggers(tx: &mut LoadTx<'_>, how: &str) -> StoreResult<()> {
    for table in TRIGGERED_TABLES {
        tx.execute(&format!("ALTER TABLE {table} {how} TRIGGER USER"), &[])?;
    }
    Ok(())
}

/// The audit batch the generated aliases belong to (as SQLite's generator names it).
fn open_batch(tx: &mut LoadTx<'_>, now: i64) -> StoreResult<i64> {
    tx.query_i64(
        "INSERT INTO alias_batches (time, actor, actor_verified, kind, reason)
         VALUES ($1, 'generator', false, 'bulk', 'synthetic fleet') RETURNING batch_id",
        &[&now],
    )
}

/// Moves the model and dataset id sequences past the ids the load chose and
/// refreshes the planner's statistics.
fn finish(loader: &mut PgLoader) -> StoreResult<()> {
    loader.write(|tx| {
        for (table, id) in [("registered_models", "rm_id"), ("dataset_entities", "ds_id")] {
            tx.query_i64(
                &format!("SELECT setval(pg_get_serial_sequence('{table}', '{id}'), (SELECT max({id}) FROM {table}))"),
                &[],
            )?;
        }
        tx.execute("ANALYZE", &[])?;
        Ok(())
    })
}

/// The database's size on disk (tables, indexes and TOAST), in bytes.
pub fn database_bytes(store: &PgStore) -> StoreResult<u64> {
    let bytes = store.loader()?.write(|tx| tx.query_i64("SELECT pg_database_size(current_database())", &[]))?;
    Ok(bytes.max(0) as u64)
}
