//! How one request's tensors are recorded: their columns' names (the
//! signature's, else by position), and each value counted into its
//! column's statistics and, through the version's reference, its drift
//! window.

use flotilla_drift::{Reference, Window};
use flotilla_infer::{Tensor, TensorData};

use super::MAX_RECORDED_COLUMNS;
use super::stats::ColumnStats;

/// Where a tensor's values are binned for drift.
pub(super) struct Drift<'a> {
    pub(super) reference: &'a Reference,
    pub(super) window: &'a mut Window,
    pub(super) map: &'a [Option<usize>],
}

impl Drift<'_> {
    pub(super) fn number(&mut self, column: usize, v: f64) {
        if let Some(Some(r)) = self.map.get(column) {
            self.window.record_number(self.reference, *r, v);
        }
    }

    pub(super) fn category(&mut self, column: usize, v: &[u8]) {
        if let Some(Some(r)) = self.map.get(column) {
            self.window.record_category(self.reference, *r, &String::from_utf8_lossy(v));
        }
    }
}

/// The columns of a version's tensors: the inputs by the signature's
/// column names when it has as many as the inputs' width, else a
/// one-column tensor by its name and a wider one's columns by position
/// (`input_0`, ...); outputs likewise.
pub(super) fn column_names(inputs: &[Tensor], outputs: &[&Tensor], signature: &[String]) -> (usize, Vec<String>) {
    let mut names = Vec::new();
    let name = |t: &Tensor, prefix: &str, names: &mut Vec<String>| {
        let width = width(t);
        if width == 1 {
            names.push(t.name.clone());
        } else {
            let base = names.len();
            names.extend((0..width).map(|j| format!("{prefix}_{}", base + j)));
        }
    };
    let input_width: usize = inputs.iter().map(width).sum();
    if !signature.is_empty() && signature.len() == input_width {
        names.extend(signature.iter().cloned());
    } else {
        inputs.iter().for_each(|t| name(t, "input", &mut names));
    }
    let n_inputs = names.len();
    let mut outs = Vec::new();
    outputs.iter().for_each(|t| name(t, "output", &mut outs));
    names.extend(outs);
    names.truncate(MAX_RECORDED_COLUMNS);
    (n_inputs.min(MAX_RECORDED_COLUMNS), names)
}

/// Columns of a tensor: its last dimension when it has two or more.
pub(super) fn width(t: &Tensor) -> usize {
    if t.shape.len() >= 2 { t.shape[1..].iter().product::<usize>().max(1) } else { 1 }
}

pub(super) fn rows_of(t: &Tensor) -> usize {
    t.shape.first().copied().unwrap_or(1)
}

/// Adds a tensor's values to its columns (`first` onwards) and their
/// reference bins, one pass.
pub(super) fn record_tensor(columns: &mut [ColumnStats], first: usize, t: &Tensor, drift: &mut Option<Drift<'_>>) {
    let w = width(t);
    let Some(cols) = columns.get_mut(first..(first + w).min(columns.len())) else { return };
    if cols.is_empty() {
        return;
    }
    let mut each = |i: usize, v: f64| {
        if let Some(c) = cols.get_mut(i % w) {
            c.record(v);
            if let Some(d) = drift.as_mut() {
                d.number(first + i % w, v);
            }
        }
    };
    match &t.data {
        TensorData::F32(v) => v.iter().enumerate().for_each(|(i, x)| each(i, f64::from(*x))),
        TensorData::F64(v) => v.iter().enumerate().for_each(|(i, x)| each(i, *x)),
        TensorData::Int(v) => v.iter().enumerate().for_each(|(i, x)| each(i, *x as f64)),
        TensorData::Uint(v) => v.iter().enumerate().for_each(|(i, x)| each(i, *x as f64)),
        TensorData::Bool(v) => v.iter().enumerate().for_each(|(i, x)| each(i, f64::from(u8::from(*x)))),
        TensorData::Bytes(v) => {
            for (i, bytes) in v.iter().enumerate() {
                if let Some(c) = cols.get_mut(i % w) {
                    c.count += 1;
                    if let Some(d) = drift.as_mut() {
                        d.category(first + i % w, bytes);
                    }
                }
            }
        }
    }
}
