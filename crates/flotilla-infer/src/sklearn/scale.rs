//! Column-wise transformers: `StandardScaler` (`(x - mean_) / scale_`),
//! `MinMaxScaler` (`x * scale_ + min_`, clipped if fitted with `clip`) and
//! `SimpleImputer` (missing values replaced by `statistics_`, columns whose
//! statistic is NaN dropped as scikit-learn drops them).

use std::mem::size_of;

use super::{Matrix, Transform, check_width, invalid, n_features_in, unsupported};
use crate::InferError;
use crate::pyvalue::{Object, Value};

/// An optional per-column array (`None` when the option turned it off).
fn column_values(o: &Object, name: &str) -> Result<Option<Vec<f64>>, InferError> {
    match o.attr(name) {
        None | Some(Value::None) => Ok(None),
        Some(v) => v.to_f64s().map(Some),
    }
}

fn width_of(o: &Object, columns: &[&Option<Vec<f64>>]) -> Result<usize, InferError> {
    let n = match n_features_in(o)? {
        Some(n) => n,
        None => columns
            .iter()
            .find_map(|c| c.as_ref().map(Vec::len))
            .ok_or_else(|| invalid(format_args!("{} has no n_features_in_", o.short_class())))?,
    };
    for c in columns.iter().filter_map(|c| c.as_ref()) {
        if c.len() != n {
            return Err(invalid(format_args!("{} holds {} values for {n} features", o.short_class(), c.len())));
        }
    }
    Ok(n)
}

#[derive(Debug)]
pub struct Standard {
    mean: Option<Vec<f64>>,
    scale: Option<Vec<f64>>,
    width: usize,
}

impl Standard {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        let mean =
            column_values(o, "mean_")?.filter(|_| o.attr("with_mean").is_none_or(|v| v.as_bool().unwrap_or(true)));
        let scale =
            column_values(o, "scale_")?.filter(|_| o.attr("with_std").is_none_or(|v| v.as_bool().unwrap_or(true)));
        let width = width_of(o, &[&mean, &scale])?;
        Ok(Self { mean, scale, width })
    }
}

impl Transform for Standard {
    fn transform(&self, mut x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.width, "StandardScaler")?;
        for row in x.data.chunks_exact_mut(self.width.max(1)) {
            if let Some(mean) = &self.mean {
                row.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
            }
            if let Some(scale) = &self.scale {
                row.iter_mut().zip(scale).for_each(|(v, s)| *v /= s);
            }
        }
        Ok(x)
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.width)
    }

    fn heap_bytes(&self) -> usize {
        [&self.mean, &self.scale].iter().filter_map(|v| v.as_ref()).map(|v| v.capacity() * size_of::<f64>()).sum()
    }
}

#[derive(Debug)]
pub struct MinMax {
    scale: Vec<f64>,
    min: Vec<f64>,
    clip: Option<(f64, f64)>,
}

impl MinMax {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        let scale = column_values(o, "scale_")?.ok_or_else(|| invalid("MinMaxScaler has no scale_"))?;
        let min = column_values(o, "min_")?.ok_or_else(|| invalid("MinMaxScaler has no min_"))?;
        width_of(o, &[&Some(scale.clone()), &Some(min.clone())])?;
        let clip = if o.attr("clip").is_some_and(|v| v.as_bool().unwrap_or(false)) {
            let range = o.need("feature_range")?.to_f64s()?;
            let [lo, hi] = range[..] else { return Err(invalid("feature_range is not (min, max)")) };
            Some((lo, hi))
        } else {
            None
        };
        Ok(Self { scale, min, clip })
    }
}

impl Transform for MinMax {
    fn transform(&self, mut x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.scale.len(), "MinMaxScaler")?;
        for row in x.data.chunks_exact_mut(self.scale.len().max(1)) {
            for ((v, s), m) in row.iter_mut().zip(&self.scale).zip(&self.min) {
                *v *= s;
                *v += m;
                if let Some((lo, hi)) = self.clip {
                    *v = v.clamp(lo, hi);
                }
            }
        }
        Ok(x)
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.scale.len())
    }

    fn heap_bytes(&self) -> usize {
        (self.scale.capacity() + self.min.capacity()) * size_of::<f64>()
    }
}

#[derive(Debug)]
pub struct Imputer {
    statistics: Vec<f64>,
    /// The value that marks a missing entry (NaN by default).
    missing: f64,
    /// Columns kept (those whose statistic is not NaN, unless
    /// `keep_empty_features`).
    kept: Vec<usize>,
}

impl Imputer {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        if o.attr("add_indicator").is_some_and(|v| v.as_bool().unwrap_or(true)) {
            return Err(unsupported(o, "add_indicator=True"));
        }
        let statistics =
            o.need("statistics_")?.to_f64s().map_err(|_| unsupported(o, "non-numeric statistics_ (strings)"))?;
        let missing = match o.attr("missing_values") {
            None | Some(Value::None) => f64::NAN,
            Some(v) => v.as_f64().map_err(|_| unsupported(o, format_args!("missing_values of type {}", v.kind())))?,
        };
        let keep_all = o.attr("keep_empty_features").is_some_and(|v| v.as_bool().unwrap_or(false));
        let kept = (0..statistics.len()).filter(|j| keep_all || !statistics[*j].is_nan()).collect();
        width_of(o, &[&Some(statistics.clone())])?;
        Ok(Self { statistics, missing, kept })
    }

    fn is_missing(&self, v: f64) -> bool {
        if self.missing.is_nan() { v.is_nan() } else { v == self.missing }
    }
}

impl Transform for Imputer {
    fn transform(&self, x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.statistics.len(), "SimpleImputer")?;
        let mut data = Vec::with_capacity(x.rows * self.kept.len());
        for row in x.iter_rows() {
            data.extend(self.kept.iter().map(|j| if self.is_missing(row[*j]) { self.statistics[*j] } else { row[*j] }));
        }
        Ok(Matrix::new(x.rows, self.kept.len(), data))
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.statistics.len())
    }

    fn heap_bytes(&self) -> usize {
        self.statistics.capacity() * size_of::<f64>() + self.kept.capacity() * size_of::<usize>()
    }
}
