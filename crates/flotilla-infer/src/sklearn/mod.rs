//! scikit-learn estimators built from a model file's [`Value`] tree (a pickle
//! read by [`crate::pickle`], a skops archive by [`crate::skops`]) and run
//! natively with scikit-learn's arithmetic, so `predict` and `predict_proba`
//! agree with the library.
//!
//! `build` dispatches on the class name: `tree` (decision trees, random
//! forests, extra trees), `boosting` (gradient boosting, histogram gradient
//! boosting), `linear`, `scale` (scalers, imputer), `encode` (one-hot and
//! ordinal encoders), `compose` (pipelines, column transformers), and
//! `lgbm` (LightGBM's scikit-learn API, run by [`crate::lightgbm`]). An
//! option an estimator was fitted with that is not implemented is refused,
//! naming it.

mod boosting;
mod compose;
mod encode;
mod hist;
mod labels;
mod lgbm;
mod linear;
mod model;
mod scale;
mod tree;

#[cfg(test)]
mod tests;

use crate::InferError;
use crate::pyvalue::{Object, Value};
pub use labels::Labels;
pub use model::load_value;

/// The scikit-learn versions whose files the reader was checked against
/// (with numpy 2.4.6). Files from another version load when their structure
/// is what these versions write; else the error names what differs.
pub const CHECKED_SKLEARN_VERSIONS: &[&str] = &["1.9.1"];

/// Rows of features, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(rows * cols, data.len());
        Self { rows, cols, data }
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows as slices (none when there are no columns).
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.cols.max(1)).take(if self.cols == 0 { 0 } else { self.rows })
    }
}

/// A fitted transformer: rows in, rows out.
pub trait Transform: Send + Sync + std::fmt::Debug {
    fn transform(&self, x: Matrix) -> Result<Matrix, InferError>;
    /// Columns it takes, when it knows (`n_features_in_`).
    fn n_in(&self) -> Option<usize>;
    /// Heap bytes it holds.
    fn heap_bytes(&self) -> usize;
}

/// A fitted regressor.
pub trait Regress: Send + Sync + std::fmt::Debug {
    /// `rows × n_outputs` predictions.
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>, InferError>;
    fn n_outputs(&self) -> usize;
    fn n_in(&self) -> Option<usize>;
    fn heap_bytes(&self) -> usize;
}

/// What a classifier computes for a batch.
pub struct Scores {
    /// `rows × n_classes` probabilities, when the estimator has them.
    pub proba: Option<Vec<f64>>,
    /// The index into `classes_` `predict` answers, per row.
    pub label: Vec<usize>,
}

/// A fitted classifier.
pub trait Classify: Send + Sync + std::fmt::Debug {
    fn classify(&self, x: &Matrix) -> Result<Scores, InferError>;
    fn classes(&self) -> &Labels;
    fn has_proba(&self) -> bool;
    fn n_in(&self) -> Option<usize>;
    fn heap_bytes(&self) -> usize;
}

/// A final estimator.
#[derive(Debug)]
pub enum Head {
    Regressor(Box<dyn Regress>),
    Classifier(Box<dyn Classify>),
}

impl Head {
    fn n_in(&self) -> Option<usize> {
        match self {
            Self::Regressor(r) => r.n_in(),
            Self::Classifier(c) => c.n_in(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Regressor(r) => r.heap_bytes(),
            Self::Classifier(c) => c.heap_bytes(),
        }
    }
}

/// A pipeline: transformers, then a final estimator.
#[derive(Debug)]
pub struct Estimator {
    pub steps: Vec<Box<dyn Transform>>,
    pub head: Head,
}

pub(crate) fn invalid(what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(what.to_string())
}

/// Refuses an estimator fitted with an option flotilla does not implement.
pub(crate) fn unsupported(o: &Object, option: impl std::fmt::Display) -> InferError {
    InferError::Unsupported(format!("{} fitted with {option} is not supported", o.short_class()))
}

/// Checks a string option is one of `allowed`, naming it otherwise.
pub(crate) fn expect_option(o: &Object, name: &str, allowed: &[&str]) -> Result<(), InferError> {
    match o.attr(name) {
        None | Some(Value::None) => Ok(()),
        Some(Value::Str(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(Value::Str(s)) => Err(unsupported(o, format_args!("{name}='{s}'"))),
        Some(other) => Err(unsupported(o, format_args!("{name} of type {}", other.kind()))),
    }
}

/// `n_features_in_`, when recorded.
pub(crate) fn n_features_in(o: &Object) -> Result<Option<usize>, InferError> {
    o.attr("n_features_in_").filter(|v| !v.is_none()).map(Value::as_usize).transpose()
}

/// Checks a batch has the columns an estimator was fitted on.
pub(crate) fn check_width(x: &Matrix, want: usize, what: &str) -> Result<(), InferError> {
    if x.cols != want {
        return Err(InferError::BadInput(format!("{what} takes {want} features per row; the input has {}", x.cols)));
    }
    Ok(())
}

/// Builds the estimator a value tree holds.
pub fn build(value: &Value) -> Result<Estimator, InferError> {
    let o = value.as_object()?;
    match o.short_class() {
        "Pipeline" => compose::pipeline(o),
        _ => Ok(Estimator { steps: Vec::new(), head: head(o)? }),
    }
}

/// Builds a final estimator.
pub(crate) fn head(o: &Object) -> Result<Head, InferError> {
    Ok(match o.short_class() {
        "DecisionTreeRegressor" | "ExtraTreeRegressor" | "RandomForestRegressor" | "ExtraTreesRegressor" => {
            Head::Regressor(Box::new(tree::Regressor::new(o)?))
        }
        "DecisionTreeClassifier" | "ExtraTreeClassifier" | "RandomForestClassifier" | "ExtraTreesClassifier" => {
            Head::Classifier(Box::new(tree::Classifier::new(o)?))
        }
        "GradientBoostingRegressor"
        | "GradientBoostingClassifier"
        | "HistGradientBoostingRegressor"
        | "HistGradientBoostingClassifier" => return boosting::head(o),
        "LinearRegression" | "Ridge" | "Lasso" | "ElasticNet" | "SGDRegressor" => {
            Head::Regressor(Box::new(linear::Linear::regressor(o)?))
        }
        "LogisticRegression" | "SGDClassifier" => Head::Classifier(Box::new(linear::Linear::classifier(o)?)),
        "LGBMRegressor" | "LGBMClassifier" => return lgbm::head(o),
        other => {
            return Err(InferError::Unsupported(format!(
                "scikit-learn estimator {other} cannot be the last step (supported: trees, forests, gradient boosting, linear models)"
            )));
        }
    })
}

/// Builds a transformer (a pipeline step or a column transformer's part).
pub(crate) fn transformer(o: &Object) -> Result<Box<dyn Transform>, InferError> {
    Ok(match o.short_class() {
        "StandardScaler" => Box::new(scale::Standard::new(o)?),
        "MinMaxScaler" => Box::new(scale::MinMax::new(o)?),
        "SimpleImputer" => Box::new(scale::Imputer::new(o)?),
        "OneHotEncoder" => Box::new(encode::OneHot::new(o)?),
        "OrdinalEncoder" => Box::new(encode::Ordinal::new(o)?),
        "ColumnTransformer" => Box::new(compose::Columns::new(o)?),
        "Pipeline" => Box::new(compose::transform_pipeline(o)?),
        other => {
            return Err(InferError::Unsupported(format!(
                "scikit-learn transformer {other} (supported: StandardScaler, MinMaxScaler, SimpleImputer, OneHotEncoder, OrdinalEncoder, ColumnTransformer)"
            )));
        }
    })
}
