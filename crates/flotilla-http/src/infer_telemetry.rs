//! Serving telemetry of one inference, recorded the same way whichever
//! protocol carried it (V2 over HTTP, MLflow's scoring protocol, gRPC V2).

use std::time::Instant;

use flotilla_app::AppState;
use flotilla_app::monitor::telemetry::{CacheUse, ErrorClass, InferRecord, Timing};
use flotilla_infer::Tensor;
use flotilla_serving::{Inference, ModelRef};

/// When each stage of an inference ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stages {
    pub started: Instant,
    pub decoded: Instant,
    pub inferred: Instant,
}

/// Records an answered inference: its inputs as the model took them, the
/// outputs answered, the stage timings and whether the model was in memory.
pub(crate) fn record_success(s: &AppState, inference: &Inference, outputs: &[&Tensor], stages: Stages) {
    let Some(telemetry) = &s.telemetry else { return };
    let done = Instant::now();
    let timing = Timing {
        total_ns: (done - stages.started).as_nanos() as u64,
        input_ns: (stages.decoded - stages.started).as_nanos() as u64,
        infer_ns: (stages.inferred - stages.decoded).as_nanos() as u64,
        output_ns: (done - stages.inferred).as_nanos() as u64,
    };
    let record = InferRecord {
        inputs: &inference.inputs,
        outputs,
        signature: &inference.model.feature_names,
        timing,
        error: None,
        cache: Some(CacheUse { hit: inference.cache_hit, model_bytes: inference.model.size as u64 }),
    };
    telemetry.record_infer(&inference.resolved.name, inference.resolved.version, &record);
}

/// Records a failed inference against the version the request resolves to
/// (a request for no known model is not recorded).
pub(crate) async fn record_failure(s: &AppState, model: &str, version: Option<&str>, started: Instant, status: u16) {
    if let (Some(telemetry), Some(serving), Some(class)) =
        (s.telemetry.as_ref(), s.serving.as_ref(), ErrorClass::of_status(status))
        && let Ok(model_ref) = ModelRef::parse(model, version)
        && let Ok(resolved) = serving.resolver.resolve(&model_ref).await
    {
        let total = started.elapsed().as_nanos() as u64;
        let timing = Timing { total_ns: total, ..Timing::default() };
        let record = InferRecord { inputs: &[], outputs: &[], signature: &[], timing, error: Some(class), cache: None };
        telemetry.record_infer(&resolved.name, resolved.version, &record);
    }
}
