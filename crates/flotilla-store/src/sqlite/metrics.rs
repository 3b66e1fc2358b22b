//! Metric points of a run: the append-only history, the per-key latest
//! value, and the latest value on the logged model a point names.

use std::collections::HashMap;

use flotilla_core::model::Metric;
use rusqlite::{Connection, params};

use crate::error::StoreResult;

/// The value as stored: NaN is kept as 0.0 with `is_nan` set, so that
/// comparisons and indexes see a number.
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

/// Writes a batch of metric points: every point to the history, then one
/// upsert per key into `latest_metrics` with that key's latest point of the
/// batch (a batch of 1,000 points over 100 keys is 1,100 statements, not 2,000).
pub(super) fn insert_metrics(tx: &Connection, key: i64, run_id: &str, metrics: &[Metric]) -> StoreResult<()> {
    // The history goes in a few wide statements: a 1,000-metric batch costs
    // ten statement executions, not a thousand.
    for chunk in metrics.chunks(HISTORY_ROWS_PER_INSERT) {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let sql = format!(
            "INSERT INTO metrics (run_key, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest) VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(9 * chunk.len());
        let stored: Vec<(f64, bool)> = chunk.iter().map(stored_value).collect();
        for (m, (value, is_nan)) in chunk.iter().zip(&stored) {
            values.extend([
                &key as &dyn rusqlite::ToSql,
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
        tx.prepare_cached(&sql)?.execute(values.as_slice())?;
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
    let mut upsert = tx.prepare_cached(
        "INSERT INTO latest_metrics (run_key, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_key, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
            timestamp = excluded.timestamp, step = excluded.step, model_id = excluded.model_id,
            dataset_name = excluded.dataset_name, dataset_digest = excluded.dataset_digest
         WHERE (excluded.step, excluded.timestamp, excluded.value) >= (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
    )?;
    for m in latest {
        let (value, is_nan) = stored_value(m);
        upsert.execute(params![
            key,
            m.key,
            value,
            is_nan,
            m.timestamp,
            m.step,
            m.model_id,
            m.dataset_name,
            m.dataset_digest
        ])?;
    }
    Ok(())
}

fn upsert_logged_model_metric(tx: &Connection, model_id: &str, run_id: &str, m: &Metric) -> StoreResult<()> {
    let (value, is_nan) = stored_value(m);
    tx.prepare_cached(
        "INSERT INTO logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_uuid, dataset_name, dataset_digest)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM logged_models WHERE model_id = ?1)
         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
            timestamp = excluded.timestamp, step = excluded.step, run_uuid = excluded.run_uuid
         WHERE (excluded.step, excluded.timestamp) >= (logged_model_metrics.step, logged_model_metrics.timestamp)",
    )?
    .execute(params![model_id, m.key, value, is_nan, m.timestamp, m.step, run_id, m.dataset_name, m.dataset_digest])?;
    Ok(())
}
