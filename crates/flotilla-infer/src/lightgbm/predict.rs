//! Batch prediction: one pass over every tree per row, summed per class in
//! iteration order as `GBDT::PredictRaw` does, then averaged (random forest)
//! and transformed by the objective.

use super::LightGbm;
use super::tree::ZERO_THRESHOLD;
use crate::{InferError, Tensor};

impl LightGbm {
    pub(super) fn run(&self, input: &Tensor) -> Result<Vec<Tensor>, InferError> {
        let (rows, cols, mut values) = input.to_f64_rows()?;
        let want = self.settings.num_features;
        if cols != want {
            return Err(InferError::BadInput(format!(
                "input '{}' has {cols} features per row; the model was trained on {want}",
                input.name
            )));
        }
        // LightGBM reads a dense row as (index, value) pairs and drops values
        // within kZeroThreshold of zero, so they reach the trees as 0.0.
        for x in &mut values {
            if x.abs() <= ZERO_THRESHOLD {
                *x = 0.0;
            }
        }
        let k = self.settings.outputs;
        let mut scores = vec![0.0; crate::tensor::output_len(rows, k)?];
        if cols > 0 {
            for (row, out) in values.chunks_exact(cols).zip(scores.chunks_exact_mut(k)) {
                self.score_row(row, out);
            }
        }
        let shape = if k == 1 { vec![rows] } else { vec![rows, k] };
        let mut outputs = Vec::with_capacity(2);
        if self.settings.objective.has_label() {
            let labels = scores.chunks_exact(k).map(|s| self.settings.objective.label(s)).collect();
            outputs.push(Tensor::f64("predict", shape, scores));
            outputs.push(Tensor::i64("label", vec![rows], labels));
        } else {
            outputs.push(Tensor::f64("predict", shape, scores));
        }
        Ok(outputs)
    }

    /// What `Booster.predict` returns for one row, written into `out`.
    fn score_row(&self, row: &[f64], out: &mut [f64]) {
        self.forest.add_outputs(row, out);
        if self.settings.average_output {
            let n = self.iterations as f64;
            out.iter_mut().for_each(|s| *s /= n);
        }
        self.settings.objective.transform(out);
    }
}
