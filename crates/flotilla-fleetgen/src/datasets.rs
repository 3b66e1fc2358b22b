//! The generated fleet's data and lineage: every store's versions are each
//! trained on their own digest of the store's own dataset (`sales-{store}`,
//! one digest per version, so an older champion is trained on superseded
//! data), and on a calendar shared by up to [`SHARED_BY`] consecutive
//! stores (`holidays-gNN`, two digests: every version but the newest on the
//! older one). Rows are written with the lineage triggers and indexes of
//! migration 14 dropped (`bulk_load`), so the counts those triggers keep
//! are written here: each own dataset trains one version; the shared ones
//! are tallied and written at the end.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::DAY_MS;
use super::batched::BatchedInsert;
use super::stores::{RowSink, Table};
use flotilla_store::StoreResult;

/// How many consecutive stores share one calendar dataset.
pub(super) const SHARED_BY: u64 = 100_000;
const CONTEXT: &str = "training";

/// Where the generation's dataset ids go: the shared calendars first, then
/// every store's own digests, `k` per store.
#[derive(Debug, Clone, Copy)]
pub(super) struct DatasetPlan {
    pub first_ds: i64,
    pub groups: u64,
    pub k: i64,
    pub seed: u64,
}

impl DatasetPlan {
    pub fn new(first_ds: i64, models: u64, k: i64, seed: u64) -> Self {
        Self { first_ds, groups: models.div_ceil(SHARED_BY).max(1), k, seed }
    }
    fn shared_id(&self, group: u64, newer: bool) -> i64 {
        self.first_ds + 2 * group as i64 + i64::from(newer)
    }
    fn own_id(&self, i: u64, v: i64) -> i64 {
        self.first_ds + 2 * self.groups as i64 + i as i64 * self.k + v - 1
    }
    fn digest(&self, i: u64, v: i64) -> String {
        let h = (self.seed ^ (i << 8) ^ v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("v{v}-{:012x}", h >> 16)
    }
}

/// The shared calendars `(ds_id, name, digest, source, creation_time)`,
/// counted at the end ([`finish_shared`]).
pub(super) fn shared_datasets(plan: &DatasetPlan, year_ago: i64) -> Vec<(i64, String, &'static str, String, i64)> {
    let mut out = Vec::new();
    for g in 0..plan.groups {
        let name = format!("holidays-g{g:02}");
        for (newer, digest) in [(false, "2025-a"), (true, "2025-b")] {
            let source = format!("s3://fleet-data/calendars/{name}/{digest}.parquet");
            let at = year_ago + if newer { 30 * DAY_MS } else { 0 };
            out.push((plan.shared_id(g, newer), name.clone(), digest, source, at));
        }
    }
    out
}

/// The shared calendars, counted at the end ([`finish_shared`]).
pub(super) fn insert_shared(tx: &Connection, plan: &DatasetPlan, year_ago: i64) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO dataset_entities (ds_id, name, digest, source_type, source, creation_time)
         VALUES (?, ?, ?, 's3', ?, ?)",
    )?;
    for (ds, name, digest, source, at) in shared_datasets(plan, year_ago) {
        stmt.execute(params![ds, name, digest, source, at])?;
    }
    Ok(())
}

/// Versions per (shared dataset, family).
#[derive(Default)]
pub(super) struct SharedTally(HashMap<(i64, i64), i64>);

impl SharedTally {
    /// `((dataset, family), versions)` for every pair tallied.
    pub fn counts(&self) -> impl Iterator<Item = ((i64, i64), i64)> + '_ {
        self.0.iter().map(|(k, n)| (*k, *n))
    }
}

/// Store `i`'s datasets and the edges from them to its versions 1..=k
/// (version `v` created at `created + v` days), with the counts the lineage
/// triggers would keep for its own datasets; the shared ones are tallied.
pub(super) fn dataset_rows(
    plan: &DatasetPlan,
    tally: &mut SharedTally,
    i: u64,
    store: &str,
    (rm_id, family_id, created): (i64, i64, i64),
    sink: &mut impl RowSink,
) -> StoreResult<()> {
    let name = format!("sales-{store}");
    let group = i / SHARED_BY;
    for v in 1..=plan.k {
        let ds = plan.own_id(i, v);
        let source = format!("s3://fleet-data/sales/{store}/v{v}.parquet");
        let at = created + v * DAY_MS - 3_600_000;
        sink.row(
            Table::DatasetEntity,
            [ds.into(), name.clone().into(), plan.digest(i, v).into(), "s3".into(), source.into(), at.into(), 1.into()],
        )?;
        sink.row(Table::DatasetVersion, [ds.into(), rm_id.into(), v.into(), CONTEXT.into()])?;
        sink.row(Table::DatasetFamilyCount, [ds.into(), family_id.into(), 1.into()])?;
        let shared = plan.shared_id(group, v == plan.k);
        sink.row(Table::DatasetVersion, [shared.into(), rm_id.into(), v.into(), CONTEXT.into()])?;
        *tally.0.entry((shared, family_id)).or_default() += 1;
    }
    Ok(())
}

/// This writer's dataset inserts in one transaction.
pub(super) struct DatasetInserts<'tx> {
    entity: BatchedInsert<'tx>,
    edge: BatchedInsert<'tx>,
    family_count: BatchedInsert<'tx>,
}

impl<'tx> DatasetInserts<'tx> {
    pub fn prepare(tx: &'tx Connection) -> StoreResult<Self> {
        Ok(Self {
            entity: BatchedInsert::new(tx, Table::DatasetEntity.target(), 7)?,
            edge: BatchedInsert::new(tx, Table::DatasetVersion.target(), 4)?,
            family_count: BatchedInsert::new(tx, Table::DatasetFamilyCount.target(), 3)?,
        })
    }

    /// Buffers one row of a dataset table.
    pub fn push<const N: usize>(&mut self, table: Table, cells: [super::batched::Cell; N]) -> StoreResult<()> {
        match table {
            Table::DatasetEntity => self.entity.push(cells),
            Table::DatasetVersion => self.edge.push(cells),
            Table::DatasetFamilyCount => self.family_count.push(cells),
            Table::Model
            | Table::Tag
            | Table::Member
            | Table::Partition
            | Table::Version
            | Table::Alias
            | Table::Event
            | Table::VersionMetric
            | Table::AliasMetric => Err(flotilla_core::Error::internal("not a dataset table").into()),
        }
    }

    pub fn finish(mut self) -> StoreResult<()> {
        self.entity.finish()?;
        self.edge.finish()?;
        self.family_count.finish()
    }
}

/// The shared calendars' counts: per family and in all.
pub(super) fn finish_shared(tx: &Connection, tally: &SharedTally) -> StoreResult<()> {
    let mut per_family = tx.prepare_cached(
        "INSERT INTO dataset_family_counts (ds_id, family_id, versions) VALUES (?, ?, ?)
         ON CONFLICT (ds_id, family_id) DO UPDATE SET versions = versions + excluded.versions",
    )?;
    let mut total =
        tx.prepare_cached("UPDATE dataset_entities SET version_count = version_count + ? WHERE ds_id = ?")?;
    for ((ds, family), n) in tally.counts() {
        per_family.execute(params![ds, family, n])?;
        total.execute(params![n, ds])?;
    }
    Ok(())
}
