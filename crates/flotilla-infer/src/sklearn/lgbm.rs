//! LightGBM scikit-learn API.

use super::Head;
use crate::InferError;
use crate::pyvalue::Object;

pub fn head(o: &Object) -> Result<Head, InferError> {
    Err(InferError::Unsupported(format!("{} is not read yet", o.short_class())))
}
