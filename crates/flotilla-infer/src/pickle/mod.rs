//! A pickle reader that never runs code: the opcodes of protocols 2 to 5
//! (what `pickle`, `cloudpickle` and `joblib` write for scikit-learn and
//! LightGBM models) are read into a [`Value`] tree. A global (a name the
//! pickle would import and call) must be on the allow-list in `allow`, or
//! the file is refused naming it; an allow-listed call is only recorded, and
//! numpy's array, dtype and scalar helpers are read as the data they carry.
//!
//! Every length is checked against the bytes present before anything is
//! allocated, and the memo, the stack, the values made and their nesting
//! are capped ([`Limits`]), so a truncated, cyclic or hostile file is an
//! error, never a panic or an unbounded allocation.

mod allow;
mod resolve;
mod vm;

#[cfg(test)]
mod tests;

pub(crate) use allow::check as check_global;

use crate::InferError;
use crate::pyvalue::Value;

/// The most bytes a model pickle may have (a 500-tree forest of deep trees
/// is a few hundred MB).
pub const MAX_PICKLE_BYTES: usize = 1 << 30;

/// What one pickle may use.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    /// Highest memo index.
    pub max_memo: usize,
    /// Items on the stack, and MARKs open.
    pub max_stack: usize,
    /// Values the machine makes (each opcode makes at most one).
    pub max_nodes: usize,
    /// Values in the tree, shared ones counted each time they are reached.
    pub max_values: usize,
    /// Nesting of the tree (scikit-learn's own nest about 15 deep).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_PICKLE_BYTES,
            max_memo: 1 << 24,
            max_stack: 1 << 20,
            max_nodes: 1 << 25,
            max_values: 1 << 25,
            max_depth: 200,
        }
    }
}

fn malformed(at: usize, what: impl std::fmt::Display) -> InferError {
    InferError::InvalidModel(format!("pickle is malformed at byte {at}: {what}"))
}

/// Reads a pickle into its value tree under the default [`Limits`].
pub fn read(bytes: &[u8]) -> Result<Value, InferError> {
    read_with(bytes, &Limits::default())
}

/// Reads a pickle into its value tree under `limits`.
pub fn read_with(bytes: &[u8], limits: &Limits) -> Result<Value, InferError> {
    if bytes.len() > limits.max_bytes {
        return Err(InferError::InvalidModel(format!(
            "pickle is {} bytes; at most {} are read",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let mut machine = vm::Machine::new(bytes, limits);
    let root = machine.run()?;
    resolve::Resolver::new(&machine.nodes, limits).value(root, 0)
}
