//! The drift read, `GET /api/monitor/v1/models/{name}/drift?version=&from=&to=`
//! (shared by the server and the CLI): the version (the default alias's,
//! else the newest, as serving picks), its reference, the drift counts of
//! its telemetry windows over the range merged into one (hours or days for
//! long ranges), judged per feature with the family's settings — against
//! the baseline traffic's merged window when the model's baseline is a
//! range of traffic; features that are the model's outputs are reported as
//! prediction drift.

use flotilla_core::fleet::DEFAULT_ALIAS;
use flotilla_core::{Error, VersionNumber};
use flotilla_drift::{DatasetDrift, FeatureDrift, Verdict, Window};
use flotilla_store::monitor::{DAY_MS, Grain, HOUR_MS, WindowQuery};
use flotilla_store::{Store, StoreResult};
use serde_json::{Value, json};

use super::drift::{Missing, ReferenceSource, config_of, merged_drift, reference_of};
use super::health::check_range;

/// The longest range one drift read merges.
pub const MAX_DRIFT_RANGE_MS: i64 = 400 * DAY_MS;

/// What a drift read asks, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftAsk {
    pub version: Option<VersionNumber>,
    pub from: i64,
    pub to: i64,
}

/// `?version=&from=&to=` (ms since the epoch; the last day by default).
pub fn drift_query(raw: &str, now: i64) -> Result<DriftAsk, Error> {
    let (mut version, mut from, mut to) = (None, None, None);
    let ms = |k: &str, v: &str| {
        v.parse::<i64>().map_err(|_| Error::invalid(format!("'{k}' must be milliseconds since the epoch, got '{v}'")))
    };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "version" => version = Some(VersionNumber::parse_param(v)?),
            "from" => from = Some(ms("from", v)?),
            "to" => to = Some(ms("to", v)?),
            other => return Err(Error::invalid(format!("unknown parameter '{other}'; known: version, from, to"))),
        }
    }
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - DAY_MS);
    check_range(from, to, MAX_DRIFT_RANGE_MS)?;
    Ok(DriftAsk { version, from, to })
}

/// The version drift is read for: asked, else the default alias's, else the newest.
pub fn version_of(store: &dyn Store, model: &str, asked: Option<VersionNumber>) -> StoreResult<VersionNumber> {
    if let Some(v) = asked {
        return Ok(store.get_version(model, v)?.version);
    }
    if let Some(v) = store.find_version_by_alias(model, DEFAULT_ALIAS)? {
        return Ok(v.version);
    }
    store
        .get_latest_versions(model, &[])?
        .into_iter()
        .map(|v| v.version)
        .max()
        .ok_or_else(|| Error::not_found(format!("Registered Model '{model}' has no versions")).into())
}

/// The grain a range is read at: the coarsest that still splits it.
pub fn grain_for(from: i64, to: i64) -> Grain {
    match to - from {
        d if d >= 2 * DAY_MS => Grain::Day,
        d if d >= 2 * HOUR_MS => Grain::Hour,
        _ => Grain::Base,
    }
}

fn source_json(s: &ReferenceSource) -> Value {
    match s {
        ReferenceSource::Baseline { dataset, digest } => {
            json!({ "kind": "baseline", "dataset": dataset, "digest": digest })
        }
        ReferenceSource::Training { dataset, digest } => {
            json!({ "kind": "training", "dataset": dataset, "digest": digest })
        }
        ReferenceSource::Traffic { version, from, to, windows, rows, dataset, digest } => json!({
            "kind": "traffic", "version": version, "from": from, "to": to, "windows": windows, "rows": rows,
            "binned_by": { "dataset": dataset, "digest": digest },
        }),
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Drift => "drift",
        Verdict::NoDrift => "no_drift",
        Verdict::NotEnoughData => "not_enough_data",
        Verdict::Incomparable => "incomparable",
    }
}

/// A version's drift over `[from, to)`: its merged window judged, or why not.
pub struct VersionDrift {
    pub version: VersionNumber,
    pub source: Option<ReferenceSource>,
    /// Why there is no reference.
    pub missing: Option<Missing>,
    pub drift: Option<DatasetDrift>,
    /// Output column names (prediction drift).
    pub outputs: Vec<String>,
    pub windows: usize,
    pub rows: u64,
    /// The reference judged against and the range's windows merged (the
    /// UI's reference vs current distribution plots).
    pub reference: Option<std::sync::Arc<flotilla_drift::Reference>>,
    /// A traffic baseline's merged window (drawn as the reference side).
    pub baseline: Option<std::sync::Arc<Window>>,
    pub merged: Option<Window>,
}

/// Reads and judges (blocking: a store read and the statistics).
pub fn version_drift(store: &dyn Store, model: &str, ask: &DriftAsk) -> StoreResult<VersionDrift> {
    let version = version_of(store, model, ask.version)?;
    let family =
        store.get_registered_model(model)?.tags.iter().find(|t| t.key == "flotilla.family").map(|t| t.value.clone());
    let config = config_of(store, family.as_deref())?;
    let monitored = store.monitored_version(model, version)?;
    let outputs = monitored.as_ref().map(|m| m.columns.iter().skip(m.inputs).cloned().collect()).unwrap_or_default();
    let reference = match reference_of(store, model, version)? {
        Ok(r) => r,
        Err(missing) => {
            return Ok(VersionDrift {
                version,
                source: None,
                missing: Some(missing),
                drift: None,
                outputs,
                windows: 0,
                rows: 0,
                reference: None,
                baseline: None,
                merged: None,
            });
        }
    };
    let grain = grain_for(ask.from, ask.to);
    let windows = store.windows(&WindowQuery {
        model: model.to_string(),
        version: Some(version),
        grain,
        from_ms: ask.from,
        to_ms: ask.to,
    })?;
    let merged = merged_drift(&windows.rows, reference.reference.fingerprint);
    let drift = match &merged.window {
        Some(w) => reference.judge(w, &config).ok(),
        None => None,
    };
    Ok(VersionDrift {
        version,
        source: Some(reference.source),
        missing: None,
        drift,
        outputs,
        windows: merged.windows,
        rows: merged.rows,
        reference: Some(reference.reference),
        baseline: reference.baseline,
        merged: merged.window,
    })
}

fn feature_json(f: &FeatureDrift) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    v["verdict"] = json!(verdict_str(f.verdict));
    v
}

/// A verdict over some features (the inputs: data drift; the outputs:
/// prediction drift), as `flotilla_drift` judges a dataset.
pub struct Judged {
    pub judged: usize,
    pub drifted: usize,
    pub share: f64,
    pub verdict: Verdict,
}

pub fn verdict_of(features: &[&FeatureDrift], drift_share: f64) -> Judged {
    let judged = features.iter().filter(|f| matches!(f.verdict, Verdict::Drift | Verdict::NoDrift)).count();
    let drifted = features.iter().filter(|f| f.verdict == Verdict::Drift).count();
    let share = if judged == 0 { 0.0 } else { drifted as f64 / judged as f64 };
    let verdict = match judged {
        0 => Verdict::NotEnoughData,
        _ if share >= drift_share => Verdict::Drift,
        _ => Verdict::NoDrift,
    };
    Judged { judged, drifted, share, verdict }
}

/// The answer's JSON: the model's verdict is the inputs' (data drift), the
/// outputs' is `prediction_verdict`.
pub fn drift_json(model: &str, ask: &DriftAsk, d: &VersionDrift) -> Value {
    let mut answer = json!({
        "model": model,
        "version": d.version,
        "from": ask.from,
        "to": ask.to,
        "windows": d.windows,
        "rows": d.rows,
        "reference": d.source.as_ref().map(source_json),
    });
    match (&d.source, &d.drift) {
        (None, _) => {
            answer["verdict"] = json!("no_reference");
            answer["reason"] = json!(d.missing.map(Missing::reason));
            answer["features"] = json!([]);
            answer["prediction_drift"] = json!([]);
        }
        (Some(_), None) => {
            answer["verdict"] = json!("not_enough_data");
            answer["features"] = json!([]);
            answer["prediction_drift"] = json!([]);
        }
        (Some(_), Some(drift)) => {
            let (outs, ins): (Vec<_>, Vec<_>) = drift.features.iter().partition(|f| d.outputs.contains(&f.feature));
            let data = verdict_of(&ins, drift.drift_share);
            answer["verdict"] = json!(verdict_str(data.verdict));
            answer["judged"] = json!(data.judged);
            answer["drifted"] = json!(data.drifted);
            answer["share"] = json!(data.share);
            answer["drift_share"] = json!(drift.drift_share);
            answer["prediction_verdict"] = json!(verdict_str(verdict_of(&outs, drift.drift_share).verdict));
            answer["features"] = Value::Array(ins.into_iter().map(feature_json).collect());
            answer["prediction_drift"] = Value::Array(outs.into_iter().map(feature_json).collect());
            answer["violations"] = serde_json::to_value(&drift.violations).unwrap_or(Value::Null);
        }
    }
    answer
}

/// Not found for the model or the version; a client's range mistake is a 400.
pub fn answer(store: &dyn Store, model: &str, ask: &DriftAsk) -> StoreResult<Value> {
    let d = version_drift(store, model, ask)?;
    Ok(drift_json(model, ask, &d))
}
