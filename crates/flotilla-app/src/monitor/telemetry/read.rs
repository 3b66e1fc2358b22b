//! The telemetry read (`GET /api/monitor/v1/models/{name}/telemetry`), for
//! the UI and the CLI: a model's windows at a grain over a time range,
//! decoded into requests, errors by kind, latency quantiles, rows, per
//! column figures and performance when labels came.

use std::collections::HashMap;

use flotilla_core::{Error, VersionNumber};
use flotilla_store::monitor::{DAY_MS, Grain, HOUR_MS, WindowQuery, WindowRow};
use serde::Serialize;

use super::now_ms;
use super::stats::{WindowStats, latency_quantile_ms};
use crate::AppState;

/// What the read asks.
#[derive(Debug, Clone, Default)]
pub struct TelemetryAsk {
    pub version: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub grain: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TelemetryAnswer {
    pub model: String,
    pub grain: &'static str,
    pub from: i64,
    pub to: i64,
    pub windows: Vec<WindowAnswer>,
    pub truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct WindowAnswer {
    #[serde(serialize_with = "flotilla_core::version::as_string")]
    pub version: VersionNumber,
    pub start: i64,
    pub length_ms: i64,
    pub requests: u64,
    pub rows: u64,
    pub errors: ErrorsAnswer,
    pub cache: CacheAnswer,
    pub latency_ms: LatencyAnswer,
    pub features: Vec<FeatureAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_fingerprint: Option<String>,
}

/// How the window's requests found their model in the serving cache.
#[derive(Debug, Serialize)]
pub struct CacheAnswer {
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: Option<f64>,
    /// The loaded model's measured bytes (the largest seen in the window; 0 unknown).
    pub model_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct ErrorsAnswer {
    pub client: u64,
    pub unavailable: u64,
    pub too_large: u64,
    pub server: u64,
    pub total: u64,
}

#[derive(Debug, Serialize)]
pub struct LatencyAnswer {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct FeatureAnswer {
    pub name: String,
    /// `input` or `output`.
    pub role: &'static str,
    pub count: u64,
    pub nulls: u64,
    pub nans: u64,
    pub null_share: f64,
    pub mean: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct PerformanceAnswer {
    pub labeled: u64,
    pub rmse: Option<f64>,
    pub mae: Option<f64>,
    pub accuracy: Option<f64>,
    pub log_loss: Option<f64>,
    pub roc_auc: Option<f64>,
}

fn grain_of(text: Option<&str>) -> Result<(Grain, &'static str), Error> {
    match text.unwrap_or("minute") {
        "minute" | "base" => Ok((Grain::Base, "minute")),
        "hour" => Ok((Grain::Hour, "hour")),
        "day" => Ok((Grain::Day, "day")),
        other => Err(Error::invalid(format!("grain must be minute, hour or day, not '{other}'"))),
    }
}

/// A time: milliseconds since the epoch.
fn time_of(name: &str, text: Option<&str>) -> Result<Option<i64>, Error> {
    text.map(|t| {
        t.trim().parse::<i64>().map_err(|_| Error::invalid(format!("'{name}' must be milliseconds since the epoch")))
    })
    .transpose()
}

fn window_answer(row: &WindowRow, names: &(usize, Vec<String>)) -> WindowAnswer {
    let stats = WindowStats::from_bytes(&row.stats).unwrap_or_default();
    let features = stats
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| FeatureAnswer {
            name: names.1.get(i).cloned().unwrap_or_else(|| format!("column_{i}")),
            role: if i < names.0 { "input" } else { "output" },
            count: c.count,
            nulls: c.nulls,
            nans: c.nans,
            null_share: c.null_share(),
            mean: c.mean(),
        })
        .collect();
    let performance = stats.performance.as_ref().map(|p| PerformanceAnswer {
        labeled: p.regression.max(p.classified),
        rmse: p.rmse(),
        mae: p.mae(),
        accuracy: p.accuracy(),
        log_loss: p.mean_log_loss(),
        roc_auc: p.roc_auc(),
    });
    WindowAnswer {
        version: row.version,
        start: row.start_ms,
        length_ms: row.length_ms,
        requests: row.requests,
        rows: row.rows,
        errors: ErrorsAnswer {
            client: row.errors.client,
            unavailable: row.errors.unavailable,
            too_large: row.errors.too_large,
            server: row.errors.server,
            total: row.errors.total(),
        },
        cache: CacheAnswer {
            hits: row.cache.hits,
            misses: row.cache.misses,
            hit_rate: row.cache.hit_rate(),
            model_bytes: row.cache.model_bytes,
        },
        latency_ms: LatencyAnswer {
            p50: latency_quantile_ms(&stats.latency, 0.5),
            p90: latency_quantile_ms(&stats.latency, 0.9),
            p99: latency_quantile_ms(&stats.latency, 0.99),
        },
        features,
        performance,
        reference_fingerprint: row.fingerprint.map(|f| format!("{f:016x}")),
    }
}

/// A model's telemetry. The caller's READ on the model is checked by the
/// adapter's permission table before this runs.
pub async fn telemetry(state: &AppState, model: &str, ask: TelemetryAsk) -> Result<TelemetryAnswer, Error> {
    let (grain, grain_name) = grain_of(ask.grain.as_deref())?;
    let version = ask.version.as_deref().map(VersionNumber::parse_param).transpose()?;
    let to = time_of("to", ask.to.as_deref())?.unwrap_or_else(|| now_ms() + 1);
    let span = match grain {
        Grain::Base => HOUR_MS,
        Grain::Hour => 7 * DAY_MS,
        Grain::Day => 90 * DAY_MS,
    };
    let from = time_of("from", ask.from.as_deref())?.unwrap_or(to - span);
    if from > to {
        return Err(Error::invalid("'from' is after 'to'"));
    }
    let query = WindowQuery { model: model.to_string(), version, grain, from_ms: from, to_ms: to };
    let name = model.to_string();
    let (windows, names) = state
        .call(move |store| {
            let windows = store.windows(&query)?;
            let mut names: HashMap<VersionNumber, (usize, Vec<String>)> = HashMap::new();
            for row in &windows.rows {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(row.version) {
                    let kept = store.monitored_version(&name, row.version)?;
                    e.insert(kept.map(|k| (k.inputs, k.columns)).unwrap_or_default());
                }
            }
            Ok((windows, names))
        })
        .await?;
    let empty = (0, Vec::new());
    Ok(TelemetryAnswer {
        model: model.to_string(),
        grain: grain_name,
        from,
        to,
        windows: windows.rows.iter().map(|r| window_answer(r, names.get(&r.version).unwrap_or(&empty))).collect(),
        truncated: windows.truncated,
    })
}
