//! `Pipeline` (transformers, then a final estimator) and
//! `ColumnTransformer` (each part on its columns, outputs side by side).
//! Columns are chosen by index, slice or boolean mask; by name needs named
//! inputs, which a numeric batch does not carry: refused, named.

use std::mem::size_of;

use super::{Estimator, Matrix, Transform, check_width, head, invalid, n_features_in, transformer, unsupported};
use crate::InferError;
use crate::pyvalue::{ArrayData, Object, Value};

/// A step's estimator, or `None` for `'passthrough'` / `None`.
fn step(value: &Value) -> Result<Option<&Object>, InferError> {
    if value.is_none() || matches!(value, Value::Str(s) if s == "passthrough") {
        return Ok(None);
    }
    value.as_object().map(Some)
}

fn steps(o: &Object) -> Result<Vec<Option<&Object>>, InferError> {
    o.need("steps")?
        .as_list()?
        .iter()
        .map(|pair| match pair.as_list()? {
            [_, estimator] => step(estimator),
            _ => Err(invalid("a pipeline step is not (name, estimator)")),
        })
        .collect()
}

/// A pipeline ending in a predictor.
pub fn pipeline(o: &Object) -> Result<Estimator, InferError> {
    let mut all = steps(o)?;
    let last = all.pop().flatten().ok_or_else(|| invalid("the pipeline's last step is not an estimator"))?;
    let steps = all.into_iter().flatten().map(transformer).collect::<Result<Vec<_>, _>>()?;
    Ok(Estimator { steps, head: head(last)? })
}

/// A pipeline of transformers only (inside a column transformer).
pub fn transform_pipeline(o: &Object) -> Result<Chain, InferError> {
    let steps = steps(o)?.into_iter().flatten().map(transformer).collect::<Result<Vec<_>, _>>()?;
    Ok(Chain(steps))
}

#[derive(Debug)]
pub struct Chain(Vec<Box<dyn Transform>>);

impl Transform for Chain {
    fn transform(&self, x: Matrix) -> Result<Matrix, InferError> {
        self.0.iter().try_fold(x, |x, t| t.transform(x))
    }

    fn n_in(&self) -> Option<usize> {
        self.0.first().and_then(|t| t.n_in())
    }

    fn heap_bytes(&self) -> usize {
        self.0.iter().map(|t| t.heap_bytes() + size_of::<Box<dyn Transform>>()).sum()
    }
}

/// One part of a column transformer: its columns and what it does to them.
#[derive(Debug)]
struct Part {
    columns: Vec<usize>,
    /// `None` passes the columns through.
    transform: Option<Box<dyn Transform>>,
}

#[derive(Debug)]
pub struct Columns {
    parts: Vec<Part>,
    width: usize,
}

impl Columns {
    pub fn new(o: &Object) -> Result<Self, InferError> {
        if o.attr("transformer_weights").is_some_and(|v| !v.is_none()) {
            return Err(unsupported(o, "transformer_weights"));
        }
        let width = n_features_in(o)?.ok_or_else(|| invalid("ColumnTransformer has no n_features_in_"))?;
        let mut parts = Vec::new();
        for entry in o.need("transformers_")?.as_list()? {
            let [_, what, columns] = entry.as_list()? else {
                return Err(invalid("a column transformer entry is not (name, transformer, columns)"));
            };
            let columns = select(columns, width)?;
            if columns.is_empty() {
                continue;
            }
            let transform = match what.as_str().ok() {
                Some("drop") => continue,
                Some("passthrough") => None,
                _ => {
                    let t = what.as_object()?;
                    if t.short_class() == "FunctionTransformer" {
                        if t.attr("func").is_some_and(|f| !f.is_none()) {
                            return Err(unsupported(t, "a func (only the identity is read)"));
                        }
                        None
                    } else {
                        Some(transformer(t)?)
                    }
                }
            };
            parts.push(Part { columns, transform });
        }
        Ok(Self { parts, width })
    }
}

/// A column selection: ints, a slice, a boolean mask; names are refused.
fn select(columns: &Value, width: usize) -> Result<Vec<usize>, InferError> {
    if let Value::Int(i) = columns {
        return Ok(vec![index(*i, width)?]);
    }
    if let Value::Str(name) = columns {
        return Err(named(name));
    }
    if let Value::Object(o) = columns
        && o.class == "builtins.slice"
    {
        let bound = |i: usize, default: i64| o.args.get(i).filter(|v| !v.is_none()).map_or(Ok(default), Value::as_i64);
        let (start, stop, step) = (bound(0, 0)?, bound(1, width as i64)?, bound(2, 1)?);
        if step <= 0 {
            return Err(InferError::Unsupported("column slices with a step below 1".into()));
        }
        let clamp = |i: i64| if i < 0 { (i + width as i64).max(0) } else { i.min(width as i64) } as usize;
        return Ok((clamp(start)..clamp(stop)).step_by(step as usize).collect());
    }
    // A numpy array of indices or of booleans, or a list.
    let (items, mask): (Vec<Value>, bool) = match columns.as_array().map(|a| &a.data) {
        Ok(ArrayData::Numeric { dtype, values }) => {
            (values.iter().map(|v| Value::Float(*v)).collect(), dtype.kind == 'b')
        }
        Ok(ArrayData::Str(names)) => return Err(named(names.first().map_or("", String::as_str))),
        Ok(ArrayData::Object(_) | ArrayData::Records { .. }) | Err(_) => {
            let items = columns.as_list()?.to_vec();
            let mask = !items.is_empty() && items.iter().all(|v| matches!(v, Value::Bool(_)));
            (items, mask)
        }
    };
    if let Some(Value::Str(name)) = items.iter().find(|v| matches!(v, Value::Str(_))) {
        return Err(named(name));
    }
    if mask {
        if items.len() != width {
            return Err(invalid(format_args!("a column mask of {} for {width} columns", items.len())));
        }
        return Ok((0..width).filter(|i| items[*i].as_f64().is_ok_and(|v| v != 0.0)).collect());
    }
    items.iter().map(|v| index(v.as_f64()? as i64, width)).collect()
}

fn index(i: i64, width: usize) -> Result<usize, InferError> {
    let j = if i < 0 { i + width as i64 } else { i };
    usize::try_from(j).ok().filter(|j| *j < width).ok_or_else(|| invalid(format_args!("column {i} of {width}")))
}

fn named(name: &str) -> InferError {
    InferError::Unsupported(format!(
        "ColumnTransformer selects column '{name}' by name; send a numeric batch to a model whose columns are chosen by index"
    ))
}

impl Transform for Columns {
    fn transform(&self, x: Matrix) -> Result<Matrix, InferError> {
        check_width(&x, self.width, "ColumnTransformer")?;
        let outputs = self
            .parts
            .iter()
            .map(|part| {
                let mut data = Vec::with_capacity(x.rows * part.columns.len());
                for row in x.iter_rows() {
                    data.extend(part.columns.iter().map(|j| row[*j]));
                }
                let picked = Matrix::new(x.rows, part.columns.len(), data);
                match &part.transform {
                    Some(t) => t.transform(picked),
                    None => Ok(picked),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cols: usize = outputs.iter().map(|m| m.cols).sum();
        let mut data = Vec::with_capacity(crate::tensor::output_len(x.rows, cols)?);
        for i in 0..x.rows {
            for m in &outputs {
                data.extend_from_slice(m.row(i));
            }
        }
        Ok(Matrix::new(x.rows, cols, data))
    }

    fn n_in(&self) -> Option<usize> {
        Some(self.width)
    }

    fn heap_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.columns.capacity() * size_of::<usize>() + p.transform.as_ref().map_or(0, |t| t.heap_bytes()))
            .sum()
    }
}
