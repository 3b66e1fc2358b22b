//! A scoring request's frame as the model's inputs: one tensor per column for
//! a model with a column signature (serving assembles them in the
//! signature's order, and names an unknown or missing column), else the
//! frame's numbers as the engine's row input, or its named tensors.

use flotilla_infer::{DataType, Tensor, TensorData, TensorSpec};
use flotilla_serving::LoadedModel;

use super::error::ScoringError;
use super::frame::{Cell, Column, Frame};

/// The tensors `frame` stands for, for `loaded`.
pub fn to_inputs(frame: Frame, loaded: &LoadedModel) -> Result<Vec<Tensor>, ScoringError> {
    let engine = loaded.model.inputs();
    if let Some(columns) = loaded.column_inputs()
        && frame.columns.iter().all(|c| c.name.is_some() && c.width == 1)
    {
        return frame
            .columns
            .into_iter()
            .map(|c| {
                let text = columns.iter().any(|s| Some(&s.name) == c.name.as_ref() && s.datatype == DataType::Bytes);
                if text {
                    Ok(text_column(c, frame.rows))
                } else {
                    numbers(c, frame.rows, DataType::Fp64, vec![frame.rows])
                }
            })
            .collect();
    }
    match engine {
        [spec] => row_input(frame, spec).map(|t| vec![t]),
        specs => frame
            .columns
            .into_iter()
            .map(|c| {
                let name = c.name.clone().ok_or_else(|| {
                    ScoringError::bad_request(format!(
                        "the model takes {} named inputs; send them by name (an object, or a DataFrame's columns)",
                        specs.len()
                    ))
                })?;
                let spec = specs.iter().find(|s| s.name == name);
                let (datatype, shape) = match spec {
                    Some(s) if s.shape.len() == 1 && c.width == 1 => (s.datatype, vec![frame.rows]),
                    Some(s) => (s.datatype, vec![frame.rows, c.width]),
                    None => (DataType::Fp64, vec![frame.rows, c.width]),
                };
                numbers(c, frame.rows, datatype, shape)
            })
            .collect(),
    }
}

/// Every column's numbers, side by side, as the engine's one row input.
fn row_input(frame: Frame, spec: &TensorSpec) -> Result<Tensor, ScoringError> {
    let width: usize = frame.columns.iter().map(|c| c.width).sum();
    let rows = frame.rows;
    let mut values = vec![0.0f64; rows * width];
    let mut at = 0;
    for column in &frame.columns {
        for (i, cell) in column.cells.iter().enumerate() {
            let (r, k) = (i / column.width, i % column.width);
            values[r * width + at + k] = number(cell, column, r)?;
        }
        at += column.width;
    }
    // The engine's float width; every engine reads either.
    let data = if spec.datatype == DataType::Fp64 {
        TensorData::F64(values)
    } else {
        TensorData::F32(values.into_iter().map(|v| v as f32).collect())
    };
    let datatype = if matches!(data, TensorData::F64(_)) { DataType::Fp64 } else { DataType::Fp32 };
    Ok(Tensor { name: spec.name.clone(), shape: vec![rows, width], datatype, data })
}

fn numbers(column: Column, rows: usize, datatype: DataType, shape: Vec<usize>) -> Result<Tensor, ScoringError> {
    let values = column
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| number(c, &column, i / column.width.max(1)))
        .collect::<Result<Vec<f64>, _>>()?;
    debug_assert_eq!(values.len(), rows * column.width);
    let name = column.name.unwrap_or_default();
    Ok(if datatype == DataType::Fp32 {
        Tensor::f32(name, shape, values.into_iter().map(|v| v as f32).collect())
    } else {
        Tensor::f64(name, shape, values)
    })
}

fn text_column(column: Column, rows: usize) -> Tensor {
    let values = column
        .cells
        .into_iter()
        .map(|c| match c {
            Cell::Text(s) => s.into_bytes(),
            Cell::Num(x) => x.to_string().into_bytes(),
        })
        .collect();
    Tensor {
        name: column.name.unwrap_or_default(),
        shape: vec![rows],
        datatype: DataType::Bytes,
        data: TensorData::Bytes(values),
    }
}

fn number(cell: &Cell, column: &Column, row: usize) -> Result<f64, ScoringError> {
    cell.number().ok_or_else(|| {
        let text = match cell {
            Cell::Text(s) => s.as_str(),
            Cell::Num(_) => "",
        };
        let shown: String = text.chars().take(64).collect();
        match &column.name {
            Some(name) => ScoringError::bad_request(format!(
                "Invalid input. column '{name}', row {row}: '{shown}' is not a number, and the model takes numbers"
            )),
            None => ScoringError::bad_request(format!(
                "Invalid input. row {row}: '{shown}' is not a number, and the model takes numbers"
            )),
        }
    })
}
