//! What the health job judges a page of versions by beside their windows
//! (`MonitorStore::version_facts` on SQLite): each version's age, family,
//! baseline and upstream datasets. A dataset's own facts (name, digest,
//! "keeps a profile", "superseded") are read once per page however many of
//! its versions link it: a calendar shared by 100,000 models keeps a 23 KB
//! profile in its row, and reading the columns past it walks the row's
//! overflow pages, which once per version was a quarter of the daily pass.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use flotilla_core::VersionNumber;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreResult;
use crate::health::Baseline;
use crate::monitor::{FactDataset, MAX_FACT_DATASETS, VersionFacts};

/// A version's age, model name and family.
const VERSION_HEAD: &str = "SELECT rm.name, mv.creation_time, f.name FROM model_versions mv \
     JOIN registered_models rm ON rm.rm_id = mv.rm_id \
     LEFT JOIN fleet_members m ON m.rm_id = mv.rm_id LEFT JOIN families f ON f.family_id = m.family_id \
     WHERE mv.rm_id = ?1 AND mv.version = ?2";

/// A version's upstream links: the dataset and whether it trained the version.
pub(super) const VERSION_DATASETS: &str =
    "SELECT ds_id, context = 'training' FROM dataset_versions WHERE rm_id = ?1 AND version = ?2";

/// A dataset's facts: whether it keeps a profile, and whether a digest of
/// its name was recorded after it (a seek on the name's time index).
pub(super) const DATASET_FACTS: &str = "SELECT de.name, de.digest, de.profile_bytes IS NOT NULL, \
     EXISTS (SELECT 1 FROM dataset_entities n WHERE n.name = de.name AND (n.creation_time > de.creation_time \
             OR (n.creation_time = de.creation_time AND n.ds_id > de.ds_id))) \
     FROM dataset_entities de WHERE de.ds_id = ?1";

/// A dataset as the facts name it (without the link's context).
#[derive(Debug, Clone)]
struct Dataset {
    name: String,
    digest: String,
    profiled: bool,
    superseded: bool,
}

/// The datasets a page's versions link, read once each (by id; `None`: no such dataset).
#[derive(Debug, Default)]
pub(super) struct Datasets(HashMap<i64, Option<Dataset>>);

impl Datasets {
    fn get(&mut self, tx: &Connection, ds_id: i64) -> StoreResult<Option<&Dataset>> {
        let slot = match self.0.entry(ds_id) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(
                tx.prepare_cached(DATASET_FACTS)?
                    .query_row([ds_id], |r| {
                        Ok(Dataset { name: r.get(0)?, digest: r.get(1)?, profiled: r.get(2)?, superseded: r.get(3)? })
                    })
                    .optional()?,
            ),
        };
        Ok(slot.as_ref())
    }
}

/// A model's explicit baseline, as the health area and a page's facts read it.
pub(super) fn baseline_of(tx: &Connection, rm_id: i64) -> StoreResult<Option<Baseline>> {
    type BaselineRow = (String, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<BaselineRow> = tx
        .prepare_cached(
            "SELECT kind, dataset_name, digest, version, from_ms, to_ms FROM model_baselines WHERE rm_id = ?1",
        )?
        .query_row([rm_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    Ok(row.and_then(|(kind, name, digest, version, from, to)| match (kind.as_str(), name, digest) {
        ("dataset", Some(name), Some(digest)) => Some(Baseline::Dataset { name, digest }),
        _ => Some(Baseline::Traffic {
            version: VersionNumber::new(version.unwrap_or(1))?,
            from: from.unwrap_or(0),
            to: to.unwrap_or(0),
        }),
    }))
}

/// One version's facts in the caller's read (`None`: no such version); its
/// datasets training ones first, then by name and digest, at most
/// [`MAX_FACT_DATASETS`].
pub(super) fn facts_of(
    tx: &Connection,
    rm_id: i64,
    version: VersionNumber,
    known: &mut Datasets,
) -> StoreResult<Option<VersionFacts>> {
    let head: Option<(String, i64, Option<String>)> = tx
        .prepare_cached(VERSION_HEAD)?
        .query_row(params![rm_id, version.get()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((model, created_ms, family)) = head else { return Ok(None) };
    let baseline = baseline_of(tx, rm_id)?;
    let links = tx
        .prepare_cached(VERSION_DATASETS)?
        .query_map(params![rm_id, version.get()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut datasets = Vec::with_capacity(links.len());
    for (ds_id, training) in links {
        if let Some(d) = known.get(tx, ds_id)? {
            let (name, digest) = (d.name.clone(), d.digest.clone());
            datasets.push(FactDataset { name, digest, training, profiled: d.profiled, superseded: d.superseded });
        }
    }
    datasets.sort_by(|a, b| (!a.training, &a.name, &a.digest).cmp(&(!b.training, &b.name, &b.digest)));
    datasets.truncate(MAX_FACT_DATASETS);
    Ok(Some(VersionFacts { model, created_ms, family, baseline, datasets }))
}
