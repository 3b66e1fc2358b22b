//! Model formats and their execution: XGBoost (JSON and UBJSON), LightGBM text
//! models, ONNX, and scikit-learn estimators (and LightGBM's scikit-learn API)
//! from pickles and skops archives, read from the files an MLflow client logs,
//! run natively. A Python model file is read as data ([`pickle`], [`skops`]
//! into [`pyvalue`]) and never executed.
//!
//! Architecture invariant: no HTTP, no SQL, no async, no file system. A model
//! is loaded from bytes the caller read ([`load`]) and reports the memory it
//! holds ([`Model::size_bytes`]), so a cache can budget by measured bytes.

pub mod columns;
mod error;
pub mod lightgbm;
pub mod mlmodel;
pub mod onnx;
pub mod pickle;
pub mod pyvalue;
pub mod sklearn;
pub mod skops;
pub mod tensor;
pub mod xgboost;

pub use columns::{ColumnSpec, ColumnType};
pub use error::InferError;
pub use mlmodel::{Flavor, MAX_MLMODEL_BYTES, MlModel, PythonFormat};
pub use tensor::{DataType, Tensor, TensorData, TensorSpec};

/// A loaded model, ready to answer requests from many threads at once.
pub trait Model: Send + Sync {
    /// The inputs the model expects and the outputs it can produce.
    fn inputs(&self) -> &[TensorSpec];
    fn outputs(&self) -> &[TensorSpec];
    /// Runs the model on one batch. `inputs` have been matched against
    /// [`Model::inputs`] by name or position; the result holds every output.
    fn predict(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, InferError>;
    /// Bytes of memory the loaded model holds (its trees, weights, buffers),
    /// measured from what was allocated, not from the file size.
    fn size_bytes(&self) -> usize;
    /// A short name of the engine, e.g. `xgboost`, for metadata and metrics.
    fn platform(&self) -> &'static str;
}

/// Loads a model given its `MLmodel` file and a reader for the files beside it.
///
/// `read` is asked for paths relative to the model directory (e.g. `model.ubj`).
pub fn load(
    mlmodel: &[u8],
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, InferError>,
) -> Result<Box<dyn Model>, InferError> {
    let flavor = MlModel::parse(mlmodel)?.flavor()?;
    let data = read(flavor.data())?;
    load_flavor(&flavor, &data)
}

/// Loads a model from its flavor (read from `MLmodel` once by the caller)
/// and the bytes of its model file.
pub fn load_flavor(flavor: &Flavor, data: &[u8]) -> Result<Box<dyn Model>, InferError> {
    match flavor {
        Flavor::Xgboost { format, .. } => xgboost::load(data, format),
        Flavor::LightGbm { .. } => lightgbm::load(data),
        Flavor::Onnx { .. } => onnx::load(data),
        Flavor::Sklearn { format: PythonFormat::Pickle, .. } => sklearn::load_value(&pickle::read(data)?),
        Flavor::Sklearn { format: PythonFormat::Skops, .. } => sklearn::load_value(&skops::read(data)?),
    }
}
