//! Metric points of a run on PostgreSQL (as `sqlite/metrics.rs`): the
//! append-only history, the per-key latest value, the latest value on the
//! logged model a point names, and the copies a run's versions keep.

use std::collections::HashMap;

use flotilla_core::model::Metric;
use postgres::types::ToSql;

use super::Tx;
use crate::error::StoreResult;

/// The value as stored: NaN is kept as 0.0 with `is_nan` set.
fn stored_value(m: &Metric) -> (f64, bool) {
    if m.value.is_nan() { (0.0, true) } else { (m.value, false) }
}

/// Which of two points of one metric is the latest: the greater (step,
/// timestamp, value); on a tie the one logged later.
fn is_newer(candidate: &Metric, current: &Metric) -> bool {
    let key = |m: &Metric| (m.step, m.timestamp, stored_value(m).0);
    key(candidate) >= key(current)
}

/// History rows per multi-row `INSERT` (9 columns each).
const HISTORY_ROWS_PER_INSERT: usize = 100;

/// Writes a batch of metric points: the history in a few wide statements,
/// then one upsert per key of `latest_metrics`.
pub(super) fn insert_metrics(tx: &mut Tx<'_>, key: i64, run_id: &str, metrics: &[Metric]) -> StoreResult<()> {
    for chunk in metrics.chunks(HISTORY_ROWS_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 9;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO metrics (run_key, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest) VALUES {}",
            rows.join(", ")
        );
        let stored: Vec<(f64, bool)> = chunk.iter().map(stored_value).collect();
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(9 * chunk.len());
        for (m, (value, is_nan)) in chunk.iter().zip(&stored) {
            values.extend([
                &key as &(dyn ToSql + Sync),
                &m.key,
                value,
                is_nan,
                &m.timestamp,
                &m.step,
                &m.model_id,
                &m.dataset_name,
                &m.dataset_digest,
            ]);
        }
        tx.execute(&sql, &values)?;
    }
    let mut latest: Vec<&Metric> = Vec::new();
    let mut slot_of: HashMap<&str, usize> = HashMap::new();
    for m in metrics {
        match slot_of.get(m.key.as_str()) {
            Some(&i) if is_newer(m, latest[i]) => latest[i] = m,
            Some(_) => {}
            None => {
                slot_of.insert(&m.key, latest.len());
                latest.push(m);
            }
        }
        if let Some(model_id) = &m.model_id {
            upsert_logged_model_metric(tx, model_id, run_id, m)?;
        }
    }
    for m in latest {
        let (value, is_nan) = stored_value(m);
        tx.execute(
            "INSERT INTO latest_metrics (run_key, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (run_key, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
                timestamp = excluded.timestamp, step = excluded.step, model_id = excluded.model_id,
                dataset_name = excluded.dataset_name, dataset_digest = excluded.dataset_digest
             WHERE (excluded.step, excluded.timestamp, excluded.value)
                   >= (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
            &[&key, &m.key, &value, &is_nan, &m.timestamp, &m.step, &m.model_id, &m.dataset_name, &m.dataset_digest],
        )?;
    }
    Ok(())
}

fn upsert_logged_model_metric(tx: &mut Tx<'_>, model_id: &str, run_id: &str, m: &Metric) -> StoreResult<()> {
    let (value, is_nan) = stored_value(m);
    tx.execute(
        "INSERT INTO logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_uuid, dataset_name, dataset_digest)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM logged_models WHERE model_id = $1)
         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
            timestamp = excluded.timestamp, step = excluded.step, run_uuid = excluded.run_uuid
         WHERE (excluded.step, excluded.timestamp) >= (logged_model_metrics.step, logged_model_metrics.timestamp)",
        &[&model_id, &m.key, &value, &is_nan, &m.timestamp, &m.step, &run_id, &m.dataset_name, &m.dataset_digest],
    )?;
    Ok(())
}

/// The versions registered from a run follow its latest metrics, and so do
/// the alias metrics of those versions (as `sqlite/aliases.rs`).
pub(super) fn run_metrics_changed(tx: &mut Tx<'_>, run_id: &str) -> StoreResult<()> {
    let versions: Vec<(i64, i64)> = tx
        .query("SELECT rm_id, version FROM model_versions WHERE run_id = $1", &[&run_id])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (rm_id, version) in versions {
        copy_run_metrics(tx, rm_id, version, run_id)?;
        refresh_alias_metrics(tx, rm_id, Some(version))?;
    }
    Ok(())
}

/// Copies into `alias_metrics` the metrics of the versions `rm_id`'s aliases
/// point at (only the aliases on `version`, when given).
pub(super) fn refresh_alias_metrics(tx: &mut Tx<'_>, rm_id: i64, version: Option<i64>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO alias_metrics (rm_id, alias, key, value)
         SELECT a.rm_id, a.alias, m.key, m.value FROM registered_model_aliases a
         JOIN model_version_metrics m ON m.rm_id = a.rm_id AND m.version = a.version
         WHERE a.rm_id = $1 AND ($2::BIGINT IS NULL OR a.version = $2)
         ON CONFLICT (rm_id, alias, key) DO UPDATE SET value = excluded.value",
        &[&rm_id, &version],
    )?;
    Ok(())
}

/// A version registered from a run starts with the run's latest metrics.
pub(super) fn copy_run_metrics(tx: &mut Tx<'_>, rm_id: i64, version: i64, run_id: &str) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO model_version_metrics (rm_id, key, version, value)
         SELECT $1, lm.key, $2, lm.value FROM runs r JOIN latest_metrics lm ON lm.run_key = r.run_key
         WHERE r.run_uuid = $3 AND NOT lm.is_nan
         ON CONFLICT (rm_id, key, version) DO UPDATE SET value = excluded.value",
        &[&rm_id, &version, &run_id],
    )?;
    Ok(())
}
