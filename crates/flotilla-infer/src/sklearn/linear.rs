//! Linear models: `X @ coef_.T + intercept_` for `LinearRegression`,
//! `Ridge`, `Lasso`, `ElasticNet`, `SGDRegressor`, and the decision function
//! of `LogisticRegression` and `SGDClassifier`, with scikit-learn's
//! probabilities (binary: logistic; multinomial: softmax; one-vs-rest:
//! logistic normalized per row).

use std::mem::size_of;

use super::labels::argmax;
use super::{Classify, Labels, Matrix, Regress, Scores, check_width, invalid, n_features_in, unsupported};
use crate::InferError;
use crate::pyvalue::Object;

/// How decision values become probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Proba {
    None,
    Softmax,
    OneVsRest,
}

#[derive(Debug)]
pub struct Linear {
    /// `targets × features`, row-major.
    coef: Vec<f64>,
    intercept: Vec<f64>,
    features: usize,
    targets: usize,
    labels: Option<Labels>,
    proba: Proba,
}

impl Linear {
    fn read(o: &Object) -> Result<Self, InferError> {
        let coef_value = o.need("coef_")?;
        let coef = coef_value.to_f64s()?;
        let features = match coef_value.as_array().map(|a| a.shape.clone()) {
            Ok(shape) if shape.len() == 2 => shape[1],
            _ => coef.len(),
        };
        if features == 0 || coef.len() % features != 0 {
            return Err(invalid(format_args!("coef_ of {} values", coef.len())));
        }
        let targets = coef.len() / features;
        let intercept = match o.attr("intercept_") {
            None => vec![0.0; targets],
            Some(v) => v.to_f64s()?,
        };
        let intercept = if intercept.len() == 1 && targets > 1 { vec![intercept[0]; targets] } else { intercept };
        if intercept.len() != targets {
            return Err(invalid(format_args!("intercept_ has {} values for {targets} targets", intercept.len())));
        }
        if let Some(n) = n_features_in(o)?
            && n != features
        {
            return Err(invalid(format_args!("coef_ has {features} features, n_features_in_ is {n}")));
        }
        Ok(Self { coef, intercept, features, targets, labels: None, proba: Proba::None })
    }

    pub fn regressor(o: &Object) -> Result<Self, InferError> {
        Self::read(o)
    }

    pub fn classifier(o: &Object) -> Result<Self, InferError> {
        let mut model = Self::read(o)?;
        let labels = Labels::read(o.need("classes_")?)?;
        let binary = labels.len() == 2;
        let want = if binary { 1 } else { labels.len() };
        if model.targets != want {
            return Err(invalid(format_args!("coef_ has {} rows for {} classes", model.targets, labels.len())));
        }
        model.proba = match o.short_class() {
            "LogisticRegression" => {
                let ovr = matches!(o.attr("multi_class"), Some(crate::pyvalue::Value::Str(s)) if s == "ovr");
                if ovr || binary { Proba::OneVsRest } else { Proba::Softmax }
            }
            _ => match o.attr("loss").map(|v| v.as_str()).transpose()? {
                Some("log_loss" | "log") => Proba::OneVsRest,
                Some(
                    "hinge"
                    | "modified_huber"
                    | "squared_hinge"
                    | "perceptron"
                    | "squared_error"
                    | "huber"
                    | "epsilon_insensitive"
                    | "squared_epsilon_insensitive",
                )
                | None => Proba::None,
                Some(other) => return Err(unsupported(o, format_args!("loss='{other}'"))),
            },
        };
        model.labels = Some(labels);
        Ok(model)
    }

    /// `rows × targets` decision values.
    fn decision(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        check_width(x, self.features, "the linear model")?;
        let mut out = vec![0.0; crate::tensor::output_len(x.rows, self.targets)?];
        for (row, out) in x.iter_rows().zip(out.chunks_exact_mut(self.targets)) {
            for (t, o) in out.iter_mut().enumerate() {
                let w = &self.coef[t * self.features..(t + 1) * self.features];
                *o = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + self.intercept[t];
            }
        }
        Ok(out)
    }

    fn size(&self) -> usize {
        (self.coef.capacity() + self.intercept.capacity()) * size_of::<f64>()
            + self.labels.as_ref().map_or(0, Labels::heap_bytes)
    }
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Regress for Linear {
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        self.decision(x)
    }

    fn n_outputs(&self) -> usize {
        self.targets
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.features)
    }

    fn heap_bytes(&self) -> usize {
        self.size()
    }
}

impl Classify for Linear {
    fn classify(&self, x: &Matrix) -> Result<Scores, InferError> {
        let d = self.decision(x)?;
        let k = self.classes().len();
        let label = if self.targets == 1 {
            d.iter().map(|v| usize::from(*v > 0.0)).collect()
        } else {
            d.chunks_exact(self.targets).map(argmax).collect()
        };
        let proba = match self.proba {
            Proba::None => None,
            Proba::OneVsRest if self.targets == 1 => Some(
                d.iter()
                    .flat_map(|v| {
                        let p = expit(*v);
                        [1.0 - p, p]
                    })
                    .collect(),
            ),
            Proba::OneVsRest => {
                let mut p: Vec<f64> = d.iter().map(|v| expit(*v)).collect();
                for row in p.chunks_exact_mut(k) {
                    let sum: f64 = row.iter().sum();
                    if sum == 0.0 {
                        row.iter_mut().for_each(|v| *v = 1.0 / k as f64);
                    } else {
                        row.iter_mut().for_each(|v| *v /= sum);
                    }
                }
                Some(p)
            }
            Proba::Softmax => {
                let mut p = d;
                for row in p.chunks_exact_mut(k) {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    row.iter_mut().for_each(|v| *v = (*v - max).exp());
                    let sum: f64 = row.iter().sum();
                    row.iter_mut().for_each(|v| *v /= sum);
                }
                Some(p)
            }
        };
        Ok(Scores { proba, label })
    }

    fn classes(&self) -> &Labels {
        const NONE: &Labels = &Labels::Int(Vec::new());
        self.labels.as_ref().unwrap_or(NONE)
    }

    fn has_proba(&self) -> bool {
        self.proba != Proba::None
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.features)
    }

    fn heap_bytes(&self) -> usize {
        self.size()
    }
}
