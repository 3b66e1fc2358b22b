//! The store-level models of a generated fleet, which are almost all of its
//! rows. Everything random about store `i` is drawn from its own generator
//! ([`Draws`]), so the two writers (see `side`) each draw what they need and
//! agree without talking: this writer writes the models, tags, partitions,
//! versions and aliases; the second writer the version and alias metrics.
//! The rows are made once ([`store_rows`], [`metric_rows`]) for any
//! [`RowSink`]: SQLite's batched inserts here, PostgreSQL's `COPY` in `postgres`.

use rusqlite::Connection;

use super::batched::{BatchedInsert, Cell};
use super::datasets::{DatasetInserts, DatasetPlan, SharedTally, dataset_rows};
use super::{DAY_MS, FamilyCounts, GeneratedFamily, GeneratedVersion, OWNERS, Rng, Stage, TIERS, VAL_MAPE, VAL_RMSE};
use flotilla_core::fleet;
use flotilla_store::StoreResult;

/// Models whose generated aliases get audit events (enough for every page
/// and report to have history to show, without a million synthetic rows).
const AUDITED_MODELS: u64 = 10_000;

/// What both writers need to draw store `i` the same way.
#[derive(Debug, Clone, Copy)]
pub(super) struct DrawPlan {
    pub seed: u64,
    /// Store-level models in the whole generation (spreads creation times).
    pub models: u64,
    pub versions_per_model: i64,
    pub regions_per_family: u64,
    pub year_ago: i64,
    /// The registered-model id of store 0; store `i` is `first_id + i`.
    pub first_id: i64,
}

/// Everything random about one store.
pub(super) struct Draws {
    pub rm_id: i64,
    pub region: usize,
    pub created: i64,
    pub owner: usize,
    pub tier: usize,
    /// Version `v`'s val_rmse is `errors[v - 1]` (val_mape is a twentieth of it).
    pub errors: Vec<f64>,
    /// The aliases it gets, with their versions (most stores have a
    /// champion, usually not the newest; some a challenger too).
    pub aliases: Vec<(&'static str, i64)>,
}

impl DrawPlan {
    pub fn draw(&self, i: u64) -> Draws {
        let mut rng = Rng(self.seed ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let k = self.versions_per_model;
        let region = rng.below(self.regions_per_family) as usize;
        // Stores join the fleet over ~300 days in id order, a week's jitter apart.
        let day = (i * 300 / self.models.max(1)) as i64;
        let created = self.year_ago + day * DAY_MS + rng.below(7 * DAY_MS as u64) as i64;
        let owner = rng.below(OWNERS.len() as u64) as usize;
        let tier = rng.below(TIERS.len() as u64) as usize;
        let mut rmse = 2.0 + 3.0 * rng.unit();
        let errors: Vec<f64> = (0..k)
            .map(|_| {
                rmse *= 0.9 + 0.15 * rng.unit();
                rmse
            })
            .collect();
        let mut aliases = Vec::new();
        if rng.below(10) < 9 {
            let champion = if k > 1 && rng.below(4) > 0 { k - 1 } else { k };
            aliases.push(("champion", champion));
            if k > 1 && champion < k && errors[(k - 1) as usize] < errors[(champion - 1) as usize] && rng.below(3) == 0
            {
                aliases.push(("challenger", k));
            }
        }
        Draws { rm_id: self.first_id + i as i64, region, created, owner, tier, errors, aliases }
    }
}

/// Store `i`'s partition value.
fn store_partition(i: u64) -> String {
    format!("s{i:07}")
}

/// Store `i`'s registered-model name, in `family`.
pub(super) fn store_name(family: &str, i: u64) -> String {
    format!("{family}.store={}", store_partition(i))
}

/// What stays the same for every store of one generation, for this writer.
pub(super) struct Plan<'a> {
    pub draws: DrawPlan,
    pub families: &'a [GeneratedFamily],
    pub now: i64,
    pub placeholder_source: &'a str,
    pub datasets: DatasetPlan,
}

/// What the stores written so far add up to.
pub(super) struct Tally {
    pub counts: Vec<FamilyCounts>,
    pub files: Vec<GeneratedVersion>,
    pub shared: SharedTally,
}

/// The tables a store's rows go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Model,
    Tag,
    Member,
    Partition,
    Version,
    Alias,
    Event,
    VersionMetric,
    AliasMetric,
    DatasetEntity,
    DatasetVersion,
    DatasetFamilyCount,
}

impl Table {
    /// The table and the columns its rows fill, in order.
    pub fn target(self) -> &'static str {
        match self {
            Self::Model => "registered_models (rm_id, name, creation_time, last_update_time, next_version)",
            Self::Tag => "registered_model_tags (rm_id, key, value)",
            Self::Member => "fleet_members (rm_id, family_id, depth, part_value, parent)",
            Self::Partition => "member_partitions (rm_id, key, value)",
            Self::Version => "model_versions (rm_id, version, creation_time, last_update_time, source, current_stage)",
            Self::Alias => "registered_model_aliases (rm_id, alias, version)",
            Self::Event => "alias_events (batch_id, rm_id, model_name, alias, to_version)",
            Self::VersionMetric => "model_version_metrics (rm_id, key, version, value)",
            Self::AliasMetric => "alias_metrics (rm_id, alias, key, value)",
            Self::DatasetEntity => {
                "dataset_entities (ds_id, name, digest, source_type, source, creation_time, version_count)"
            }
            Self::DatasetVersion => "dataset_versions (ds_id, rm_id, version, context)",
            Self::DatasetFamilyCount => "dataset_family_counts (ds_id, family_id, versions)",
        }
    }
}

/// Where a writer puts the rows of the stores it draws: SQLite's batched
/// inserts, or PostgreSQL's `COPY` buffers (`postgres`).
pub(super) trait RowSink {
    fn row<const N: usize>(&mut self, table: Table, cells: [Cell; N]) -> StoreResult<()>;
}

/// What [`store_rows`] wrote store `i` as, for the rows a writer adds of its own.
pub(super) struct WrittenStore {
    pub rm_id: i64,
    pub family_id: i64,
    pub created: i64,
    pub partition: String,
}

/// The rows of store `i` of the fleet: its registered model, membership,
/// partition values, tags, versions 1..=k and aliases (with audit events for
/// the first [`AUDITED_MODELS`]), in that order, so a model is a member
/// before anything that counts in its family arrives.
pub(super) fn store_rows(
    plan: &Plan<'_>,
    tally: &mut Tally,
    i: u64,
    batch: i64,
    with_file: bool,
    sink: &mut impl RowSink,
) -> StoreResult<WrittenStore> {
    let d = plan.draws.draw(i);
    let k = plan.draws.versions_per_model;
    let rm_id = d.rm_id;
    let f = (i % plan.families.len() as u64) as usize;
    let (family, family_id, regions) = &plan.families[f];
    let (region, region_rm) = &regions[d.region];
    let store = store_partition(i);
    let name = store_name(family, i);
    let c = &mut tally.counts[f];
    c.members += 1;
    c.owners[d.owner] += 1;
    c.tiers[d.tier] += 1;

    sink.row(Table::Model, [rm_id.into(), name.clone().into(), d.created.into(), plan.now.into(), (k + 1).into()])?;
    sink.row(Table::Member, [rm_id.into(), (*family_id).into(), 2.into(), store.clone().into(), (*region_rm).into()])?;
    sink.row(Table::Partition, [rm_id.into(), "region".into(), region.clone().into()])?;
    sink.row(Table::Partition, [rm_id.into(), "store".into(), store.clone().into()])?;
    for (key, value) in [
        (fleet::FAMILY_TAG, family.clone().into()),
        (fleet::PARTITION_TAG, format!("region={region}/store={store}").into()),
        ("owner", OWNERS[d.owner].into()),
        ("tier", TIERS[d.tier].into()),
    ] {
        sink.row(Table::Tag, [rm_id.into(), key.into(), value])?;
    }

    for v in 1..=k {
        let at = d.created + v * DAY_MS;
        let stage = Stage::of(v, k);
        c.stages[stage as usize] += 1;
        let source = if with_file {
            let source = format!("mlflow-artifacts:/fleet/{name}/{v}");
            tally.files.push(GeneratedVersion { model: name.clone(), version: v, source: source.clone() });
            source
        } else {
            plan.placeholder_source.to_string()
        };
        sink.row(Table::Version, [rm_id.into(), v.into(), at.into(), at.into(), source.into(), stage.name().into()])?;
    }

    for &(alias, version) in &d.aliases {
        match alias {
            "champion" => c.champion += 1,
            _ => c.challenger += 1,
        }
        sink.row(Table::Alias, [rm_id.into(), alias.into(), version.into()])?;
        if i < AUDITED_MODELS {
            sink.row(Table::Event, [batch.into(), rm_id.into(), name.clone().into(), alias.into(), version.into()])?;
        }
    }
    Ok(WrittenStore { rm_id, family_id: *family_id, created: d.created, partition: store })
}

/// The metrics of each version of a store and of each of its aliases.
pub(super) fn metric_rows(d: &Draws, sink: &mut impl RowSink) -> StoreResult<()> {
    let rm_id = d.rm_id;
    for (v, &rmse) in (1i64..).zip(&d.errors) {
        sink.row(Table::VersionMetric, [rm_id.into(), VAL_RMSE.into(), v.into(), rmse.into()])?;
        sink.row(Table::VersionMetric, [rm_id.into(), VAL_MAPE.into(), v.into(), (rmse / 20.0).into()])?;
    }
    for &(alias, version) in &d.aliases {
        let value = d.errors[(version - 1) as usize];
        sink.row(Table::AliasMetric, [rm_id.into(), alias.into(), VAL_MAPE.into(), (value / 20.0).into()])?;
        sink.row(Table::AliasMetric, [rm_id.into(), alias.into(), VAL_RMSE.into(), value.into()])?;
    }
    Ok(())
}

/// This writer's inserts in one transaction, one per table.
pub(super) struct StoreInserts<'tx> {
    model: BatchedInsert<'tx>,
    tag: BatchedInsert<'tx>,
    member: BatchedInsert<'tx>,
    partition: BatchedInsert<'tx>,
    version: BatchedInsert<'tx>,
    alias: BatchedInsert<'tx>,
    event: BatchedInsert<'tx>,
    datasets: DatasetInserts<'tx>,
}

impl RowSink for StoreInserts<'_> {
    fn row<const N: usize>(&mut self, table: Table, cells: [Cell; N]) -> StoreResult<()> {
        match table {
            Table::Model => self.model.push(cells),
            Table::Tag => self.tag.push(cells),
            Table::Member => self.member.push(cells),
            Table::Partition => self.partition.push(cells),
            Table::Version => self.version.push(cells),
            Table::Alias => self.alias.push(cells),
            Table::Event => self.event.push(cells),
            Table::DatasetEntity | Table::DatasetVersion | Table::DatasetFamilyCount => {
                self.datasets.push(table, cells)
            }
            Table::VersionMetric | Table::AliasMetric => {
                Err(flotilla_core::Error::internal("metrics are the second writer's").into())
            }
        }
    }
}

impl<'tx> StoreInserts<'tx> {
    pub fn prepare(tx: &'tx Connection) -> StoreResult<Self> {
        let insert = |table: Table, width| BatchedInsert::new(tx, table.target(), width);
        Ok(Self {
            model: insert(Table::Model, 5)?,
            tag: insert(Table::Tag, 3)?,
            member: insert(Table::Member, 5)?,
            partition: insert(Table::Partition, 3)?,
            version: insert(Table::Version, 6)?,
            alias: insert(Table::Alias, 3)?,
            event: insert(Table::Event, 5)?,
            datasets: DatasetInserts::prepare(tx)?,
        })
    }

    /// Writes what is still buffered.
    pub fn finish(mut self) -> StoreResult<()> {
        for table in [
            &mut self.model,
            &mut self.tag,
            &mut self.member,
            &mut self.partition,
            &mut self.version,
            &mut self.alias,
            &mut self.event,
        ] {
            table.finish()?;
        }
        self.datasets.finish()
    }

    /// Writes store `i` of the fleet ([`store_rows`]) and the datasets it was trained on.
    pub fn store(
        &mut self,
        plan: &Plan<'_>,
        tally: &mut Tally,
        i: u64,
        batch: i64,
        with_file: bool,
    ) -> StoreResult<()> {
        let s = store_rows(plan, tally, i, batch, with_file, self)?;
        let ids = (s.rm_id, s.family_id, s.created);
        dataset_rows(&plan.datasets, &mut tally.shared, i, &s.partition, ids, self)
    }
}

/// The second writer's inserts: the metrics of each version and of each alias.
pub(super) struct MetricInserts<'tx> {
    version_metric: BatchedInsert<'tx>,
    alias_metric: BatchedInsert<'tx>,
}

impl RowSink for MetricInserts<'_> {
    fn row<const N: usize>(&mut self, table: Table, cells: [Cell; N]) -> StoreResult<()> {
        match table {
            Table::VersionMetric => self.version_metric.push(cells),
            Table::AliasMetric => self.alias_metric.push(cells),
            Table::Model
            | Table::Tag
            | Table::Member
            | Table::Partition
            | Table::Version
            | Table::Alias
            | Table::Event
            | Table::DatasetEntity
            | Table::DatasetVersion
            | Table::DatasetFamilyCount => {
                Err(flotilla_core::Error::internal("the second writer writes metrics only").into())
            }
        }
    }
}

impl<'tx> MetricInserts<'tx> {
    pub fn prepare(tx: &'tx Connection) -> StoreResult<Self> {
        Ok(Self {
            version_metric: BatchedInsert::new(tx, Table::VersionMetric.target(), 4)?,
            alias_metric: BatchedInsert::new(tx, Table::AliasMetric.target(), 4)?,
        })
    }

    pub fn store(&mut self, d: &Draws) -> StoreResult<()> {
        metric_rows(d, self)
    }

    pub fn finish(mut self) -> StoreResult<()> {
        self.version_metric.finish()?;
        self.alias_metric.finish()
    }
}
