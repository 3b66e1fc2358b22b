//! XGBoost objectives as flotilla runs them: how `base_score` becomes the
//! starting margin, and how margins become what `Booster.predict` returns.
//! Arithmetic is in `f32`, as XGBoost does it, so outputs match to the bit
//! or nearly.

use crate::InferError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Objective {
    /// The margin is the prediction: squared/absolute/pseudo-Huber/quantile
    /// errors, `reg:squaredlogerror`, ranking, `binary:logitraw`.
    Identity,
    /// `reg:logistic` (no label) and `binary:logistic` (with a 0/1 label).
    Logistic { label: bool },
    /// `binary:hinge`: 1 if the margin is positive, else 0.
    Hinge,
    /// Log link: `count:poisson`, `reg:gamma`, `reg:tweedie`, `survival:cox`, `survival:aft`.
    Exp,
    /// `multi:softprob`: class probabilities, plus the argmax label.
    Softprob,
    /// `multi:softmax`: the argmax class index as a float.
    Softmax,
}

impl Objective {
    pub(crate) fn from_name(name: &str) -> Result<Self, InferError> {
        Ok(match name {
            "reg:squarederror"
            | "reg:linear"
            | "reg:absoluteerror"
            | "reg:pseudohubererror"
            | "reg:quantileerror"
            | "reg:squaredlogerror"
            | "binary:logitraw"
            | "rank:pairwise"
            | "rank:ndcg"
            | "rank:map" => Self::Identity,
            "reg:logistic" => Self::Logistic { label: false },
            "binary:logistic" => Self::Logistic { label: true },
            "binary:hinge" => Self::Hinge,
            "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" | "survival:aft" => Self::Exp,
            "multi:softprob" => Self::Softprob,
            "multi:softmax" => Self::Softmax,
            other => {
                return Err(InferError::Unsupported(format!(
                    "XGBoost objective '{other}' is not supported; supported: reg:squarederror, reg:absoluteerror, \
                     reg:pseudohubererror, reg:quantileerror, reg:squaredlogerror, reg:logistic, binary:logistic, \
                     binary:logitraw, binary:hinge, count:poisson, reg:gamma, reg:tweedie, survival:cox, survival:aft, \
                     multi:softprob, multi:softmax, rank:pairwise, rank:ndcg, rank:map"
                )));
            }
        })
    }

    /// Whether the objective needs one output group per class.
    pub(crate) fn is_multiclass(self) -> bool {
        match self {
            Self::Softprob | Self::Softmax => true,
            Self::Identity | Self::Logistic { .. } | Self::Hinge | Self::Exp => false,
        }
    }

    /// Whether the model answers a `label` output beside `predict`.
    pub(crate) fn has_label(self) -> bool {
        match self {
            Self::Logistic { label } => label,
            Self::Softprob => true,
            Self::Identity | Self::Hinge | Self::Exp | Self::Softmax => false,
        }
    }

    /// The starting margin for a `base_score`, which XGBoost stores in the
    /// output space (a probability for logistic, a mean for log-link models).
    pub(crate) fn base_margin(self, base_score: f32) -> Result<f32, InferError> {
        match self {
            Self::Identity | Self::Hinge | Self::Softprob | Self::Softmax => Ok(base_score),
            Self::Logistic { .. } => {
                if !(base_score > 0.0 && base_score < 1.0) {
                    return Err(InferError::InvalidModel(format!(
                        "base_score {base_score} of a logistic objective must be in (0, 1)"
                    )));
                }
                Ok(-(1.0f32 / base_score - 1.0).ln())
            }
            Self::Exp => {
                if base_score.is_nan() || base_score <= 0.0 {
                    return Err(InferError::InvalidModel(format!(
                        "base_score {base_score} of a log-link objective must be positive"
                    )));
                }
                Ok(base_score.ln())
            }
        }
    }
}

/// XGBoost's `common::Sigmoid`.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / ((-x).min(88.7).exp() + 1.0)
}

/// XGBoost's `common::Softmax`: in place, shifted by the max, summed in `f64`.
pub(crate) fn softmax(margins: &mut [f32]) {
    let max = margins.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for m in margins.iter_mut() {
        *m = (*m - max).exp();
        sum += f64::from(*m);
    }
    let sum = sum as f32;
    for m in margins.iter_mut() {
        *m /= sum;
    }
}

/// The index of the first largest value, as `np.argmax` and XGBoost pick it.
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_margins() {
        let logistic = Objective::Logistic { label: true };
        let cases: &[(Objective, f32, f32)] = &[
            (Objective::Identity, 2.5, 2.5),
            (logistic, 0.5, 0.0),
            (logistic, 0.45, -0.200_670_7),
            (Objective::Exp, 1.0, 0.0),
            (Objective::Exp, 0.5, -std::f32::consts::LN_2),
            (Objective::Softprob, -0.25, -0.25),
        ];
        for (objective, base, want) in cases {
            let got = objective.base_margin(*base).unwrap();
            assert!((got - want).abs() < 1e-6, "{objective:?} {base}: {got} != {want}");
        }
        assert!(logistic.base_margin(1.0).is_err());
        assert!(Objective::Exp.base_margin(0.0).is_err());
        assert!(matches!(Objective::from_name("reg:unknown"), Err(InferError::Unsupported(_))));
    }

    #[test]
    fn transforms() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(1000.0) == 1.0);
        let mut m = [1.0, 2.0, 3.0];
        softmax(&mut m);
        assert!((m.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&m), 2);
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
