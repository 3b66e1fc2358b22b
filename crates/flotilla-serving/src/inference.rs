//! Inference from a model reference: resolve and load the model, match the
//! request's inputs to what it declares, predict on the blocking pool and
//! select the requested outputs. The protocol adapters only decode the
//! request's tensors and encode the answer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use flotilla_infer::{Model, Tensor};

use crate::{LoadedModel, ModelRef, Resolved, Serving, ServingError};

/// What one inference answered: which version, and the outputs in the order
/// asked for (every output the model produces, in its order, when none were
/// named).
#[derive(Debug)]
pub struct Inference {
    pub resolved: Resolved,
    pub outputs: Vec<Tensor>,
    /// The inputs as the model took them (in its order), handed back for
    /// telemetry to bin without decoding the request again.
    pub inputs: Vec<Tensor>,
    /// The model that answered.
    pub model: Arc<LoadedModel>,
    /// Whether it was in memory already (else this request waited for its load).
    pub cache_hit: bool,
}

impl Serving {
    /// Runs `model` on `inputs` and answers the outputs named in `outputs`
    /// (all of them when empty). Columns are assembled into the engine's row
    /// input ([`crate::columns`]); inputs are matched by name (a single input
    /// by position) and checked against the declared shapes; an unknown
    /// output name is refused after prediction, as the protocol answers it.
    pub async fn infer(
        &self,
        model: &ModelRef,
        inputs: Vec<Tensor>,
        outputs: &[String],
    ) -> Result<Inference, ServingError> {
        let fetched = self.fetch(model).await?;
        self.infer_fetched(fetched, inputs, outputs).await
    }

    /// [`Serving::infer`] on a model already fetched ([`Serving::fetch`]),
    /// for an adapter that needed the model to decode the request.
    pub async fn infer_fetched(
        &self,
        (resolved, loaded, cache_hit): (Resolved, Arc<LoadedModel>, bool),
        inputs: Vec<Tensor>,
        outputs: &[String],
    ) -> Result<Inference, ServingError> {
        let inputs = crate::columns::assemble(&loaded, inputs)?;
        let inputs = match_inputs(loaded.model.as_ref(), inputs)?;
        let (inputs, produced) = predict(Arc::clone(&loaded), inputs).await?;
        Ok(Inference { resolved, outputs: select_outputs(produced, outputs)?, inputs, model: loaded, cache_hit })
    }
}

/// Requests with at most this many input elements predict inline on the
/// async worker: a few rows through the native tree and linear engines take
/// microseconds, and the hop to the blocking pool cost more than the work
/// (one-row LightGBM requests: 26k/s inline, 10.5k/s through the pool, one
/// client; 38k/s vs 22k/s with 16).
const INLINE_ELEMENTS: usize = 4096;

/// Prediction is CPU-bound: beyond a few rows it runs on the blocking pool,
/// never on an async worker. The loaded model stays alive (and counted)
/// until it finishes.
async fn predict(loaded: Arc<LoadedModel>, inputs: Vec<Tensor>) -> Result<(Vec<Tensor>, Vec<Tensor>), ServingError> {
    let elements: usize = inputs.iter().map(|t| t.shape.iter().product::<usize>()).sum();
    if elements <= INLINE_ELEMENTS && loaded.warmed.load(Ordering::Relaxed) {
        let outputs = loaded.model.predict(&inputs)?;
        return Ok((inputs, outputs));
    }
    let (inputs, outputs) = tokio::task::spawn_blocking(move || {
        let outputs = loaded.model.predict(&inputs);
        loaded.warmed.store(true, Ordering::Relaxed);
        (inputs, outputs)
    })
    .await
    .map_err(|e| ServingError::Internal(e.to_string()))?;
    Ok((inputs, outputs?))
}

/// Orders and checks the request's inputs against what the model declares.
fn match_inputs(model: &dyn Model, mut given: Vec<Tensor>) -> Result<Vec<Tensor>, ServingError> {
    let wanted = model.inputs();
    if wanted.len() == 1 && given.len() == 1 && given[0].name != wanted[0].name {
        given[0].name = wanted[0].name.clone();
    }
    let mut ordered = Vec::with_capacity(wanted.len());
    for spec in wanted {
        let pos = given
            .iter()
            .position(|t| t.name == spec.name)
            .ok_or_else(|| ServingError::BadRequest(format!("missing input '{}'", spec.name)))?;
        let tensor = given.swap_remove(pos);
        let fixed_ok = spec.shape.len() == tensor.shape.len()
            && spec.shape.iter().zip(&tensor.shape).all(|(want, got)| *want < 0 || *want as usize == *got);
        let one_row = spec.shape.len() == 2
            && spec.shape[0] < 0
            && tensor.shape.len() == 1
            && spec.shape[1] as usize == tensor.shape[0];
        if !fixed_ok && !one_row {
            return Err(ServingError::BadRequest(format!(
                "input '{}' has shape {:?}; the model expects {:?} (-1 = any)",
                spec.name, tensor.shape, spec.shape
            )));
        }
        ordered.push(tensor);
    }
    if let Some(extra) = given.first() {
        return Err(ServingError::BadRequest(format!("unexpected input '{}'", extra.name)));
    }
    Ok(ordered)
}

/// The outputs named in `wanted`, in that order; all of `produced` when
/// `wanted` is empty.
fn select_outputs(produced: Vec<Tensor>, wanted: &[String]) -> Result<Vec<Tensor>, ServingError> {
    if wanted.is_empty() {
        return Ok(produced);
    }
    let mut all = produced;
    let mut picked = Vec::with_capacity(wanted.len());
    for name in wanted {
        let pos = all
            .iter()
            .position(|t| &t.name == name)
            .ok_or_else(|| ServingError::BadRequest(format!("unknown output '{name}'")))?;
        picked.push(all.swap_remove(pos));
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use flotilla_infer::{DataType, InferError, TensorSpec};

    use super::*;

    struct Fixed {
        inputs: Vec<TensorSpec>,
        outputs: Vec<TensorSpec>,
    }

    impl Model for Fixed {
        fn inputs(&self) -> &[TensorSpec] {
            &self.inputs
        }
        fn outputs(&self) -> &[TensorSpec] {
            &self.outputs
        }
        fn predict(&self, _inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError> {
            Ok(Vec::new())
        }
        fn size_bytes(&self) -> usize {
            0
        }
        fn platform(&self) -> &'static str {
            "fixed"
        }
    }

    fn model(inputs: &[(&str, Vec<i64>)]) -> Fixed {
        Fixed {
            inputs: inputs.iter().map(|(n, s)| TensorSpec::new(*n, DataType::Fp32, s.clone())).collect(),
            outputs: Vec::new(),
        }
    }

    fn names(tensors: &[Tensor]) -> Vec<&str> {
        tensors.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn a_single_input_matches_by_position_and_one_row_fits_a_batch() {
        let m = model(&[("x", vec![-1, 3])]);
        let got = match_inputs(&m, vec![Tensor::f32("anything", vec![3], vec![1.0, 2.0, 3.0])]).unwrap();
        assert_eq!(names(&got), ["x"]);
    }

    #[test]
    fn inputs_are_ordered_by_the_model_and_checked() {
        let m = model(&[("a", vec![-1, 1]), ("b", vec![-1, 1])]);
        let given = vec![Tensor::f32("b", vec![1, 1], vec![0.0]), Tensor::f32("a", vec![1, 1], vec![0.0])];
        assert_eq!(names(&match_inputs(&m, given).unwrap()), ["a", "b"]);
        let missing = match_inputs(&m, vec![Tensor::f32("a", vec![1, 1], vec![0.0])]).unwrap_err();
        assert_eq!(missing.to_string(), "missing input 'b'");
        let shape =
            match_inputs(&m, vec![Tensor::f32("a", vec![1, 2], vec![0.0; 2]), Tensor::f32("b", vec![1, 1], vec![0.0])]);
        assert!(matches!(shape, Err(ServingError::BadRequest(m)) if m.starts_with("input 'a' has shape [1, 2]")));
    }

    #[test]
    fn outputs_are_selected_in_the_order_asked() {
        let produced = || vec![Tensor::f32("p", vec![1], vec![0.0]), Tensor::f32("q", vec![1], vec![0.0])];
        assert_eq!(names(&select_outputs(produced(), &[]).unwrap()), ["p", "q"]);
        assert_eq!(names(&select_outputs(produced(), &["q".into(), "p".into()]).unwrap()), ["q", "p"]);
        let unknown = select_outputs(produced(), &["r".into()]).unwrap_err();
        assert_eq!(unknown.to_string(), "unknown output 'r'");
    }
}
