//! The model-wide settings of the header: classes, trees per iteration, the
//! feature count, the objective and random-forest averaging.

use super::objective::Objective;
use super::parse::{Field, Header, find, invalid};
use crate::InferError;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settings {
    /// Scores per row: `num_tree_per_iteration` (= `num_class`).
    pub outputs: usize,
    /// `max_feature_idx + 1`.
    pub num_features: usize,
    pub objective: Objective,
    /// Random-forest mode: the sum is divided by the number of iterations.
    pub average_output: bool,
}

/// Versions whose text format this reader follows; v4 only added fields
/// (`is_linear`, linear leaves) to v3, and v2 lacked nothing we read.
const VERSIONS: [&str; 3] = ["v2", "v3", "v4"];

fn required<'f, 'a>(header: &'f Header<'a>, key: &str) -> Result<&'f Field<'a>, InferError> {
    find(&header.fields, key).ok_or_else(|| InferError::InvalidModel(format!("LightGBM model header has no '{key}='")))
}

/// A count that must be at least one and fit LightGBM's `int`.
fn count(field: &Field<'_>) -> Result<usize, InferError> {
    let n: i64 = field.scalar()?;
    if n < 1 || n > i64::from(i32::MAX) {
        return Err(invalid(field.line, format_args!("{}={n} is out of range", field.key)));
    }
    Ok(n as usize)
}

impl Settings {
    pub fn read(header: &Header<'_>) -> Result<Self, InferError> {
        if let Some(v) = find(&header.fields, "version") {
            let version = v.value.trim();
            if !VERSIONS.contains(&version) {
                return Err(InferError::Unsupported(format!(
                    "LightGBM model version '{version}' (line {}); flotilla reads {}",
                    v.line,
                    VERSIONS.join(", ")
                )));
            }
        }
        let num_class = required(header, "num_class")?;
        let classes = count(num_class)?;
        let outputs = match find(&header.fields, "num_tree_per_iteration") {
            Some(f) => count(f)?,
            None => classes,
        };
        if outputs != classes {
            return Err(invalid(
                num_class.line,
                format_args!("num_class={classes} but num_tree_per_iteration={outputs}; flotilla expects them equal"),
            ));
        }
        let max_feature_idx = required(header, "max_feature_idx")?;
        let idx: i64 = max_feature_idx.scalar()?;
        if !(0..i64::from(i32::MAX)).contains(&idx) {
            return Err(invalid(max_feature_idx.line, format_args!("max_feature_idx={idx} is out of range")));
        }
        let objective = match find(&header.fields, "objective") {
            Some(f) => Objective::parse(f.line, f.value, outputs)?,
            None => Objective::Raw,
        };
        Ok(Self { outputs, num_features: idx as usize + 1, objective, average_output: header.average_output })
    }
}
