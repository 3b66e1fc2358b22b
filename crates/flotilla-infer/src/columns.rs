//! The column schema of an MLflow signature: `signature.inputs` as a JSON
//! list of named, typed columns (what `infer_signature` writes for a pandas
//! DataFrame). A tensor-based signature, or one that does not read, has no
//! columns: the model is then addressed by its tensors only.

use serde::Deserialize;

use crate::DataType;

/// Columns read from a signature at most.
pub const MAX_SIGNATURE_COLUMNS: usize = 4096;
/// The longest column name read.
pub const MAX_COLUMN_NAME: usize = 256;

/// MLflow's column types (`mlflow.types.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    Integer,
    Long,
    Float,
    Double,
    String,
    Binary,
    Datetime,
}

impl ColumnType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "boolean" => Self::Boolean,
            "integer" => Self::Integer,
            "long" => Self::Long,
            "float" => Self::Float,
            "double" => Self::Double,
            "string" => Self::String,
            "binary" => Self::Binary,
            "datetime" => Self::Datetime,
            _ => return None,
        })
    }

    /// Whether values of the column are text (sent as V2 BYTES), not numbers.
    pub fn is_text(self) -> bool {
        match self {
            Self::String | Self::Binary | Self::Datetime => true,
            Self::Boolean | Self::Integer | Self::Long | Self::Float | Self::Double => false,
        }
    }

    /// The V2 datatype a column of this type travels as (MLServer's pandas codec).
    pub fn datatype(self) -> DataType {
        match self {
            Self::Boolean => DataType::Bool,
            Self::Integer => DataType::Int32,
            Self::Long => DataType::Int64,
            Self::Float => DataType::Fp32,
            Self::Double => DataType::Fp64,
            Self::String | Self::Binary | Self::Datetime => DataType::Bytes,
        }
    }
}

/// One input column of a column-based signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub kind: ColumnType,
}

/// The columns of a signature's `inputs` JSON, in order; empty for a
/// tensor-based signature, one with unnamed or unknown-typed columns, one
/// past the limits, or text that does not read.
pub fn parse_columns(inputs: &str) -> Vec<ColumnSpec> {
    #[derive(Deserialize)]
    struct Column {
        name: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let Ok(columns) = serde_json::from_str::<Vec<Column>>(inputs) else { return Vec::new() };
    if columns.len() > MAX_SIGNATURE_COLUMNS {
        return Vec::new();
    }
    let mut specs = Vec::with_capacity(columns.len());
    for column in columns {
        let (Some(name), Some(kind)) = (column.name, column.kind.as_deref().and_then(ColumnType::parse)) else {
            return Vec::new();
        };
        if name.len() > MAX_COLUMN_NAME {
            return Vec::new();
        }
        specs.push(ColumnSpec { name, kind });
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_as_columns_or_none() {
        let long = format!(r#"[{{"name": "{}", "type": "double"}}]"#, "x".repeat(MAX_COLUMN_NAME + 1));
        let cases: &[(&str, &[(&str, ColumnType)])] = &[
            (
                r#"[{"type": "double", "name": "a", "required": true}, {"type": "string", "name": "city"}]"#,
                &[("a", ColumnType::Double), ("city", ColumnType::String)],
            ),
            (r#"[{"type": "long", "name": "n"}]"#, &[("n", ColumnType::Long)]),
            (r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]"#, &[]),
            (r#"[{"type": "double"}]"#, &[]),
            (r#"[{"type": "array", "name": "a", "items": {"type": "double"}}]"#, &[]),
            ("not json", &[]),
            (&long, &[]),
        ];
        for (json, want) in cases {
            let got: Vec<(String, ColumnType)> = parse_columns(json).into_iter().map(|c| (c.name, c.kind)).collect();
            let want: Vec<(String, ColumnType)> = want.iter().map(|(n, k)| (n.to_string(), *k)).collect();
            assert_eq!(got, want, "{json}");
        }
    }
}
