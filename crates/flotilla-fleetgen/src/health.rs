//! Synthetic fleet health (issue 15, point 8), so the health roll-ups can be
//! measured at 10⁶ models: each model's checks written through the store's
//! own `record_health` (the triggers keep the family, partition and tag
//! counters as they would in production), 20,000 models per transaction.
//! Deterministic for a seed: every third family drifts (a quarter of its
//! models fail data drift, a third of those prediction drift too), every
//! fifth region errors (its models fail the error rate), one model in ten
//! is idle (traffic warns, errors and latency unknown), 2 % are slow.

use std::path::Path;

use flotilla_store::health::{Check, CheckResult, HealthUpdate, Status};
use flotilla_store::prelude::*;
use flotilla_store::{SqliteStore, StoreResult};
use rusqlite::{Connection, OpenFlags};

const MODELS_PER_TRANSACTION: usize = 20_000;

pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn check(check: Check, status: Status, value: Option<f64>) -> CheckResult {
    CheckResult { check, status, value }
}

/// One model's synthetic checks.
pub fn synthetic_checks(seed: u64, rm_id: i64, family_id: Option<i64>, region: Option<&str>) -> Vec<CheckResult> {
    let h = mix(seed ^ rm_id as u64);
    let idle = h.is_multiple_of(10);
    let region_errors = region
        .is_some_and(|r| mix(seed ^ r.bytes().fold(0u64, |a, b| a.wrapping_mul(31) ^ b as u64)).is_multiple_of(5));
    let drifting_family = family_id.is_some_and(|f| f % 3 == 0);
    let drifts = drifting_family && (h >> 8).is_multiple_of(4);
    let mut out = Vec::with_capacity(8);
    if idle {
        out.push(check(Check::Traffic, Status::Warn, Some(0.0)));
        out.push(check(Check::ErrorRate, Status::Unknown, None));
        out.push(check(Check::LatencyP99, Status::Unknown, None));
    } else {
        out.push(check(Check::Traffic, Status::Ok, Some(((h >> 16) % 5000) as f64)));
        let rate = if region_errors { 0.08 } else { 0.002 };
        out.push(check(Check::ErrorRate, if region_errors { Status::Fail } else { Status::Ok }, Some(rate)));
        let slow = (h >> 24).is_multiple_of(50);
        out.push(check(
            Check::LatencyP99,
            if slow { Status::Warn } else { Status::Ok },
            Some(if slow { 1500.0 } else { 12.0 }),
        ));
    }
    out.push(check(
        Check::DataDrift,
        if drifts { Status::Fail } else { Status::Ok },
        Some(if drifts { 0.6 } else { 0.1 }),
    ));
    let prediction = drifts && (h >> 32).is_multiple_of(3);
    out.push(check(Check::PredictionDrift, if prediction { Status::Fail } else { Status::Ok }, None));
    out.push(check(Check::Performance, Status::Unknown, None));
    out.push(check(Check::Staleness, Status::Ok, None));
    out.push(check(Check::Baseline, Status::Ok, None));
    out
}

/// Writes synthetic health for every registered model of the store at
/// `path` (opened as a server would; not while one runs); answers the models written.
pub fn generate_health(path: &Path, seed: u64, progress: &mut dyn FnMut(u64)) -> StoreResult<u64> {
    let store = SqliteStore::open(path)?;
    let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut page = reader.prepare(
        "SELECT r.rm_id, r.name, m.family_id, \
         (SELECT p.value FROM member_partitions p WHERE p.rm_id = r.rm_id AND p.key = 'region') \
         FROM registered_models r LEFT JOIN fleet_members m ON m.rm_id = r.rm_id \
         WHERE r.rm_id > ?1 ORDER BY r.rm_id LIMIT ?2",
    )?;
    let (mut after, mut written) = (0i64, 0u64);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    loop {
        let rows = page
            .query_map(rusqlite::params![after, MODELS_PER_TRANSACTION as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let updates: Vec<HealthUpdate> = rows
            .iter()
            .map(|(id, name, family, region)| HealthUpdate {
                model: name.clone(),
                checks: synthetic_checks(seed, *id, *family, region.as_deref()),
            })
            .collect();
        store.record_health(&updates, now)?;
        written += updates.len() as u64;
        progress(written);
    }
    store.snapshot_health(now.div_euclid(3_600_000) * 3_600_000)?;
    Ok(written)
}
