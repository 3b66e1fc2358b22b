//! Category encoders on numeric columns: `OneHotEncoder` (one column per
//! category, less the dropped one) and `OrdinalEncoder` (the category's
//! index). A category not seen in fitting is refused, ignored or given
//! `unknown_value`, as the encoder was fitted to do. String categories need
//! string columns, which a numeric batch does not carry: refused, named.

use std::mem::size_of;

use super::{Matrix, Transform, check_width, invalid, unsupported};
use crate::InferError;
use crate::pyvalue::{Object, Value};

/// Each column's categories, as numbers.
fn categories(o: &Object) -> Result<Vec<Vec<f64>>, InferError> {
    if o.attr("_infrequent_enabled").is_some_and(|v| v.as_bool().unwrap_or(true)) {
        return Err(unsupported(o, "infrequent categories (min_frequency or max_categories)"));
    }
    o.need("categories_")?
        .as_list()?
        .iter()
        .map(|c| c.to_f64s().map_err(|_| unsupported(o, "string categories (numeric columns only)")))
        .collect()
}

/// The index of `x` among `cats` (NaN matches a NaN category).
fn find(cats: &[f64], x: f64) -> Option<usize> {
    if x.is_nan() { cats.iter().position(|c| c.is_nan()) } else { cats.iter().position(|c| *c == x) }
}

fn unknown(column: usize, x: f64) -> InferError {
    InferError::BadInput(format!("column {column} holds {x}, a category unknown when the encoder was fitted"))
}

#[derive(Debug)]
pub struct OneHot {
    categories: Vec<Vec<f64>>,
    /// The category left out of each column's encoding.
    dropped: Vec<Option<usize>>,
    ignore_unknown: bool,
    width: usize,
}

impl OneHot {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        let categories = categories(o)?;
        super::expect_option(o, "handle_unknown", &["error", "ignore", "infrequent_if_exist", "warn"])?;
        let ignore_unknown = !matches!(o.attr("handle_unknown"), Some(Value::Str(s)) if s == "error");
        let dropped = match o.attr("drop_idx_") {
            None | Some(Value::None) => vec![None; categories.len()],
            Some(v) => {
                v.as_list()
                    .map(|items| items.to_vec())
                    .or_else(|_| v.to_f64s().map(|f| f.into_iter().map(Value::Float).collect()))?
                    .iter()
                    .map(|d| {
                        if d.is_none() {
                            Ok(None)
                        } else {
                            d.as_usize().or_else(|_| Ok(d.as_f64()? as usize)).map(Some)
                        }
                    })
                    .collect::<Result<Vec<_>, InferError>>()?
            }
        };
        if dropped.len() != categories.len()
            || dropped.iter().zip(&categories).any(|(d, c)| d.is_some_and(|d| d >= c.len()))
        {
            return Err(invalid("OneHotEncoder's drop_idx_ does not match its categories"));
        }
        let width = categories.iter().zip(&dropped).map(|(c, d)| c.len() - usize::from(d.is_some())).sum();
        Ok(Self { categories, dropped, ignore_unknown, width })
    }
}

impl Transform for OneHot {
    fn transform(&self, x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.categories.len(), "OneHotEncoder")?;
        let mut data = vec![0.0; crate::tensor::output_len(x.rows, self.width)?];
        for (row, out) in x.iter_rows().zip(data.chunks_exact_mut(self.width.max(1))) {
            let mut base = 0;
            for (j, (cats, drop)) in self.categories.iter().zip(&self.dropped).enumerate() {
                match find(cats, row[j]) {
                    Some(i) if Some(i) == *drop => {}
                    Some(i) => out[base + i - usize::from(drop.is_some_and(|d| d < i))] = 1.0,
                    None if self.ignore_unknown => {}
                    None => return Err(unknown(j, row[j])),
                }
                base += cats.len() - usize::from(drop.is_some());
            }
        }
        Ok(Matrix::new(x.rows, self.width, data))
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.categories.len())
    }

    fn heap_bytes(&self) -> usize {
        self.categories.iter().map(|c| c.capacity() * size_of::<f64>()).sum::<usize>()
            + self.dropped.capacity() * size_of::<Option<usize>>()
    }
}

#[derive(Debug)]
pub struct Ordinal {
    categories: Vec<Vec<f64>>,
    /// `unknown_value` when fitted with `handle_unknown='use_encoded_value'`.
    unknown_value: Option<f64>,
    encoded_missing: f64,
}

impl Ordinal {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        let categories = categories(o)?;
        super::expect_option(o, "handle_unknown", &["error", "use_encoded_value"])?;
        let unknown_value = match o.attr("handle_unknown") {
            Some(Value::Str(s)) if s == "use_encoded_value" => Some(o.need("unknown_value")?.as_f64()?),
            _ => None,
        };
        let encoded_missing = match o.attr("encoded_missing_value") {
            None | Some(Value::None) => f64::NAN,
            Some(v) => v.as_f64()?,
        };
        Ok(Self { categories, unknown_value, encoded_missing })
    }
}

impl Transform for Ordinal {
    fn transform(&self, mut x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.categories.len(), "OrdinalEncoder")?;
        for row in x.data.chunks_exact_mut(self.categories.len().max(1)) {
            for (j, (v, cats)) in row.iter_mut().zip(&self.categories).enumerate() {
                *v = match find(cats, *v) {
                    Some(_) if v.is_nan() => self.encoded_missing,
                    Some(i) => i as f64,
                    None => self.unknown_value.ok_or_else(|| unknown(j, *v))?,
                };
            }
        }
        Ok(x)
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.categories.len())
    }

    fn heap_bytes(&self) -> usize {
        self.categories.iter().map(|c| c.capacity() * size_of::<f64>()).sum()
    }
}
