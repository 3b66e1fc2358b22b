//! The `objective=` line and the output transform it implies, as LightGBM's
//! `ObjectiveFunction::ConvertOutput` applies it in `Booster.predict`.

use super::parse::invalid;
use crate::InferError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Objective {
    /// The raw score: no objective line, `custom`, `huber`, ranking, and the
    /// regression family without `sqrt`.
    Raw,
    /// Regression trained on `sign(y)·sqrt(|y|)` (`reg_sqrt`): `sign(x)·x²`.
    SignedSquare,
    /// `poisson`, `gamma`, `tweedie`: `exp(x)`.
    Exp,
    /// `binary sigmoid:σ`: `1 / (1 + exp(-σx))`, with a class label.
    Binary { sigmoid: f64 },
    /// `cross_entropy`: `1 / (1 + exp(-x))`, a probability without a label.
    CrossEntropy,
    /// `cross_entropy_lambda`: `log(1 + exp(x))`.
    CrossEntropyLambda,
    /// `multiclass num_class:K`: softmax over the K scores, with a label.
    Multiclass,
    /// `multiclassova num_class:K sigmoid:σ`: one sigmoid per class, with a label.
    MulticlassOva { sigmoid: f64 },
}

/// `key:value` parameters after the objective's name.
fn param(line: usize, tokens: &[&str], key: &str) -> Result<Option<f64>, InferError> {
    for t in tokens {
        if let Some(v) = t.strip_prefix(key).and_then(|rest| rest.strip_prefix(':')) {
            let v: f64 =
                v.parse().map_err(|_| invalid(line, format_args!("objective parameter '{t}' is not a number")))?;
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn sigmoid(line: usize, tokens: &[&str]) -> Result<f64, InferError> {
    let s = param(line, tokens, "sigmoid")?.unwrap_or(1.0);
    if s > 0.0 && s.is_finite() {
        Ok(s)
    } else {
        Err(invalid(line, format_args!("objective sigmoid:{s} must be greater than zero")))
    }
}

impl Objective {
    /// Reads the objective line; `outputs` is the number of scores per row
    /// (`num_tree_per_iteration`), which the objective must agree with.
    pub fn parse(line: usize, value: &str, outputs: usize) -> Result<Self, InferError> {
        let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
        let Some((&name, params)) = tokens.split_first() else { return Ok(Self::Raw) };
        let sqrt = params.contains(&"sqrt");
        let objective = match name {
            "regression" | "regression_l2" | "regression_l1" | "quantile" | "fair" | "mape" if sqrt => {
                Self::SignedSquare
            }
            "regression" | "regression_l2" | "regression_l1" | "quantile" | "fair" | "mape" | "huber"
            | "lambdarank" | "rank_xendcg" | "custom" => Self::Raw,
            "poisson" | "gamma" | "tweedie" => Self::Exp,
            "binary" => Self::Binary { sigmoid: sigmoid(line, params)? },
            "cross_entropy" => Self::CrossEntropy,
            "cross_entropy_lambda" => Self::CrossEntropyLambda,
            "multiclass" => Self::Multiclass,
            "multiclassova" => Self::MulticlassOva { sigmoid: sigmoid(line, params)? },
            other => {
                return Err(InferError::Unsupported(format!(
                    "LightGBM objective '{other}' (line {line}) is unknown to flotilla"
                )));
            }
        };
        let want = match objective {
            Self::Multiclass | Self::MulticlassOva { .. } => {
                let k = param(line, params, "num_class")?.unwrap_or(outputs as f64);
                if k != outputs as f64 {
                    return Err(invalid(line, format_args!("objective says num_class:{k}, the header {outputs}")));
                }
                outputs
            }
            Self::Raw => outputs,
            Self::SignedSquare | Self::Exp | Self::Binary { .. } | Self::CrossEntropy | Self::CrossEntropyLambda => 1,
        };
        if want != outputs {
            return Err(invalid(
                line,
                format_args!("objective '{name}' needs one tree per iteration, the header says {outputs}"),
            ));
        }
        Ok(objective)
    }

    /// Whether the model is a classifier that also answers a `label`.
    pub fn has_label(self) -> bool {
        match self {
            Self::Binary { .. } | Self::Multiclass | Self::MulticlassOva { .. } => true,
            Self::Raw | Self::SignedSquare | Self::Exp | Self::CrossEntropy | Self::CrossEntropyLambda => false,
        }
    }

    /// Turns one row's raw scores into what `Booster.predict` returns.
    pub fn transform(self, scores: &mut [f64]) {
        match self {
            Self::Raw => {}
            Self::SignedSquare => scores.iter_mut().for_each(|x| *x = x.signum() * *x * *x),
            Self::Exp => scores.iter_mut().for_each(|x| *x = x.exp()),
            Self::Binary { sigmoid } | Self::MulticlassOva { sigmoid } => {
                scores.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-sigmoid * *x).exp()));
            }
            Self::CrossEntropy => scores.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp())),
            Self::CrossEntropyLambda => scores.iter_mut().for_each(|x| *x = (1.0 + x.exp()).ln()),
            Self::Multiclass => softmax(scores),
        }
    }

    /// The class of one row of transformed scores, as the scikit-learn
    /// wrapper decides it: `p > 0.5` for binary, the first argmax otherwise.
    pub fn label(self, scores: &[f64]) -> i64 {
        if let (Self::Binary { .. }, [p]) = (self, scores) {
            return i64::from(*p > 0.5);
        }
        argmax(scores) as i64
    }
}

/// LightGBM's `Common::Softmax`: shifted by the maximum, then normalised.
fn softmax(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in scores.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    scores.iter_mut().for_each(|x| *x /= sum);
}

fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in scores.iter().enumerate() {
        if *x > scores[best] {
            best = i;
        }
    }
    best
}
