//! Gradient boosting: `GradientBoosting{Regressor,Classifier}` (an `init_`
//! estimator, then `learning_rate ×` each stage's `Tree`, rows cast to
//! `float32`) and `HistGradientBoosting{Regressor,Classifier}` (a baseline,
//! then each iteration's `TreePredictor` on the raw `float64` rows, see
//! `hist`). Raw scores are summed in scikit-learn's order and turned into
//! predictions by the loss's link.

use std::mem::size_of;

use super::hist::HistTree;
use super::labels::argmax;
use super::tree::{Tree, as_f32};
use super::{Classify, Head, Labels, Matrix, Regress, Scores, check_width, invalid, n_features_in, unsupported};
use crate::InferError;
use crate::pyvalue::{ArrayData, Object, Value};

/// From raw scores to predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    Identity,
    /// Poisson and gamma losses.
    Exp,
    /// Binary log loss (`expit`), or with `half` the exponential loss.
    Logit {
        half: bool,
    },
    Softmax,
}

#[derive(Debug)]
enum Stages {
    /// `[stage][k]`, on `float32` rows.
    Exact(Vec<Vec<Tree>>),
    /// `[iteration][k]`, on `float64` rows.
    Hist(Vec<Vec<HistTree>>),
}

#[derive(Debug)]
pub struct Boosted {
    n_features: usize,
    /// Trees per iteration (1, or the number of classes).
    k: usize,
    baseline: Vec<f64>,
    scale: f64,
    stages: Stages,
    link: Link,
    labels: Option<Labels>,
    /// `GradientBoostingClassifier` picks by raw score (`>= 0`, argmax);
    /// the histogram one by probability (argmax).
    label_by_raw: bool,
}

pub fn head(o: &Object) -> Result<Head, InferError> {
    let model = match o.short_class() {
        "GradientBoostingRegressor" | "GradientBoostingClassifier" => gradient(o)?,
        _ => super::hist::histogram(o)?,
    };
    Ok(if model.labels.is_some() { Head::Classifier(Box::new(model)) } else { Head::Regressor(Box::new(model)) })
}

fn loss_link(o: &Object, k: usize, classifier: bool) -> Result<Link, InferError> {
    let loss = o.attr("loss").map(Value::as_str).transpose()?.unwrap_or("");
    Ok(match (loss, classifier) {
        ("squared_error" | "absolute_error" | "huber" | "quantile", false) => Link::Identity,
        ("poisson" | "gamma", false) => Link::Exp,
        ("log_loss" | "deviance", true) if k == 1 => Link::Logit { half: false },
        ("log_loss" | "deviance", true) => Link::Softmax,
        ("exponential", true) if k == 1 => Link::Logit { half: true },
        (other, _) => return Err(unsupported(o, format_args!("loss='{other}'"))),
    })
}

pub(super) fn labels_and_width(o: &Object) -> Result<(Option<Labels>, usize), InferError> {
    let labels = o.attr("classes_").map(Labels::read).transpose()?;
    let k = match &labels {
        Some(l) if l.len() > 2 => l.len(),
        _ => 1,
    };
    Ok((labels, k))
}

fn gradient(o: &Object) -> Result<Boosted, InferError> {
    let n_features = n_features_in(o)?.ok_or_else(|| invalid("gradient boosting has no n_features_in_"))?;
    let (labels, k) = labels_and_width(o)?;
    let link = loss_link(o, k, labels.is_some())?;
    let estimators = o.need("estimators_")?.as_array()?;
    if estimators.shape.len() != 2 || estimators.shape[1] != k {
        return Err(invalid(format_args!(
            "estimators_ has shape {:?}; {k} trees per stage expected",
            estimators.shape
        )));
    }
    let ArrayData::Object(trees) = &estimators.data else {
        return Err(invalid("estimators_ is not an array of trees"));
    };
    let stages = trees
        .chunks_exact(k)
        .map(|stage| stage.iter().map(|t| Tree::read(t.as_object()?.need("tree_")?, n_features)).collect())
        .collect::<Result<Vec<Vec<Tree>>, InferError>>()?;
    let baseline = init_raw(o, k, labels.is_some())?;
    let scale = o.need("learning_rate")?.as_f64()?;
    Ok(Boosted { n_features, k, baseline, scale, stages: Stages::Exact(stages), link, labels, label_by_raw: true })
}

/// `_init_raw_predictions`: what `init_` predicts, through the loss's link.
fn init_raw(o: &Object, k: usize, classifier: bool) -> Result<Vec<f64>, InferError> {
    let init = o.need("init_")?;
    if matches!(init, Value::Str(s) if s == "zero") {
        return Ok(vec![0.0; k]);
    }
    let init = init.as_object()?;
    match (init.short_class(), classifier) {
        ("DummyRegressor", false) => {
            let constant = init.need("constant_")?.to_f64s()?;
            (constant.len() == 1).then_some(constant).ok_or_else(|| invalid("init_ predicts more than one output"))
        }
        ("DummyClassifier", true) => {
            super::expect_option(init, "_strategy", &["prior"])?;
            let eps = f64::EPSILON;
            let prior: Vec<f64> =
                init.need("class_prior_")?.to_f64s()?.iter().map(|p| p.clamp(eps, 1.0 - eps)).collect();
            if k == 1 {
                let p =
                    *prior.get(1).ok_or_else(|| invalid("class_prior_ of a binary init has fewer than 2 values"))?;
                let logit = (p / (1.0 - p)).ln();
                let half = matches!(o.attr("loss"), Some(Value::Str(s)) if s == "exponential");
                Ok(vec![if half { 0.5 * logit } else { logit }])
            } else if prior.len() == k {
                let gmean = (prior.iter().map(|p| p.ln()).sum::<f64>() / k as f64).exp();
                Ok(prior.iter().map(|p| (p / gmean).ln()).collect())
            } else {
                Err(invalid(format_args!("class_prior_ has {} values for {k} classes", prior.len())))
            }
        }
        (other, _) => Err(unsupported(o, format_args!("init={other} (only the default init is read)"))),
    }
}

impl Boosted {
    pub(super) fn new_hist(
        n_features: usize,
        baseline: Vec<f64>,
        stages: Vec<Vec<HistTree>>,
        o: &Object,
    ) -> Result<Self, InferError> {
        let (labels, k) = labels_and_width(o)?;
        let link = loss_link(o, k, labels.is_some())?;
        if baseline.len() != k || stages.iter().any(|s| s.len() != k) {
            return Err(invalid(format_args!("histogram gradient boosting does not have {k} trees per iteration")));
        }
        Ok(Self {
            n_features,
            k,
            baseline,
            scale: 1.0,
            stages: Stages::Hist(stages),
            link,
            labels,
            label_by_raw: false,
        })
    }

    /// `rows × k` raw scores.
    fn raw(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        check_width(x, self.n_features, "the gradient boosting model")?;
        let k = self.k;
        let mut raw = vec![0.0; crate::tensor::output_len(x.rows, k)?];
        raw.chunks_exact_mut(k).for_each(|r| r.copy_from_slice(&self.baseline));
        match &self.stages {
            Stages::Exact(stages) => {
                let rows = as_f32(x);
                for (row, out) in rows.chunks_exact(x.cols.max(1)).zip(raw.chunks_exact_mut(k)) {
                    for stage in stages {
                        for (o, tree) in out.iter_mut().zip(stage) {
                            *o += self.scale * tree.leaf_values(row)[0];
                        }
                    }
                }
            }
            Stages::Hist(stages) => {
                for (row, out) in x.iter_rows().zip(raw.chunks_exact_mut(k)) {
                    for stage in stages {
                        for (o, tree) in out.iter_mut().zip(stage) {
                            *o += tree.value(row);
                        }
                    }
                }
            }
        }
        Ok(raw)
    }

    fn size(&self) -> usize {
        let trees = match &self.stages {
            Stages::Exact(s) => s.iter().flatten().map(|t| t.heap_bytes() + size_of::<Tree>()).sum::<usize>(),
            Stages::Hist(s) => s.iter().flatten().map(|t| t.heap_bytes() + size_of::<HistTree>()).sum::<usize>(),
        };
        trees + self.baseline.capacity() * size_of::<f64>() + self.labels.as_ref().map_or(0, Labels::heap_bytes)
    }
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Regress for Boosted {
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>, InferError> {
        let mut raw = self.raw(x)?;
        if self.link == Link::Exp {
            raw.iter_mut().for_each(|v| *v = v.exp());
        }
        Ok(raw)
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.size()
    }
}

impl Classify for Boosted {
    fn classify(&self, x: &Matrix) -> Result<Scores, InferError> {
        let raw = self.raw(x)?;
        let proba: Vec<f64> = match self.link {
            Link::Logit { half } => raw
                .iter()
                .flat_map(|r| {
                    let p = expit(if half { 2.0 * r } else { *r });
                    [1.0 - p, p]
                })
                .collect(),
            Link::Softmax => raw
                .chunks_exact(self.k)
                .flat_map(|r| {
                    let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = r.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    e.into_iter().map(move |v| v / sum)
                })
                .collect(),
            Link::Identity | Link::Exp => return Err(invalid("a classifier with a regression loss")),
        };
        let width = self.classes().len();
        let label = match (self.label_by_raw, self.k) {
            (true, 1) => raw.iter().map(|r| usize::from(*r >= 0.0)).collect(),
            (true, _) => raw.chunks_exact(self.k).map(argmax).collect(),
            (false, _) => proba.chunks_exact(width).map(argmax).collect(),
        };
        Ok(Scores { proba: Some(proba), label })
    }

    fn classes(&self) -> &Labels {
        const NONE: &Labels = &Labels::Int(Vec::new());
        self.labels.as_ref().unwrap_or(NONE)
    }

    fn has_proba(&self) -> bool {
        true
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.n_features)
    }

    fn heap_bytes(&self) -> usize {
        self.size()
    }
}
