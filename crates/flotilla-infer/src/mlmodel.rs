//! The `MLmodel` file an MLflow client writes beside a model: which flavor,
//! which data file, which format. It comes from whoever registered the
//! model, so it is parsed under limits: a few KB is normal; the size, the
//! nesting depth and the node count are capped, so nested YAML is refused
//! in microseconds rather than parsed for seconds.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::InferError;
use crate::columns::{ColumnSpec, parse_columns};

/// The largest `MLmodel` read (MLflow writes a few KB, with a signature).
pub const MAX_MLMODEL_BYTES: u64 = 1 << 20;
/// Nesting depth allowed (MLflow's own files nest four or five levels).
const MAX_DEPTH: usize = 32;
/// YAML nodes allowed (scalars, sequences and mappings).
const MAX_NODES: usize = 50_000;

/// The fields flotilla reads from a flavor it can run; others are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FlavorFields {
    data: Option<String>,
    model_format: Option<String>,
    model_class: Option<String>,
    /// The sklearn flavor's model file and its format (`skops`,
    /// `cloudpickle`, `pickle`); the lightgbm flavor's format for the
    /// scikit-learn API.
    pickled_model: Option<String>,
    serialization_format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Flavors {
    xgboost: Option<FlavorFields>,
    lightgbm: Option<FlavorFields>,
    onnx: Option<FlavorFields>,
    sklearn: Option<FlavorFields>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

/// MLflow's model signature: JSON text of the inputs' and outputs' specs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Signature {
    inputs: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MlModel {
    #[serde(default)]
    flavors: Flavors,
    #[serde(default)]
    signature: Signature,
}

/// A flavor flotilla can run, with the file that holds the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// `format` is `json`, `ubj` or `deprecated` (the old binary format).
    Xgboost {
        data: String,
        format: String,
    },
    LightGbm {
        data: String,
    },
    Onnx {
        data: String,
    },
    /// A scikit-learn estimator (or LightGBM's scikit-learn API), pickled
    /// or in a skops archive.
    Sklearn {
        data: String,
        format: PythonFormat,
    },
}

/// How a Python model file is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonFormat {
    /// `pickle` or `cloudpickle`: read by [`crate::pickle`], never executed.
    Pickle,
    /// A skops zip archive: read by [`crate::skops`].
    Skops,
}

impl Flavor {
    /// The model file, relative to the model's directory.
    pub fn data(&self) -> &str {
        match self {
            Self::Xgboost { data, .. } | Self::LightGbm { data } | Self::Onnx { data } | Self::Sklearn { data, .. } => {
                data
            }
        }
    }
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_MLMODEL_BYTES as usize);
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = 4 * MAX_NODES;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_total_scalar_bytes = MAX_MLMODEL_BYTES as usize;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    options
}

impl MlModel {
    /// Parses an `MLmodel` file, refusing one over [`MAX_MLMODEL_BYTES`] or
    /// past the depth and node limits. CPU-bound: call it off async workers.
    pub fn parse(bytes: &[u8]) -> Result<Self, InferError> {
        if bytes.len() as u64 > MAX_MLMODEL_BYTES {
            return Err(InferError::InvalidModel(format!(
                "MLmodel is {} bytes; at most {MAX_MLMODEL_BYTES} are accepted",
                bytes.len()
            )));
        }
        serde_saphyr::from_slice_with_options(bytes, options())
            .map_err(|e| InferError::InvalidModel(format!("MLmodel is not valid: {e}")))
    }

    /// The column names of a column-based signature's inputs, in order;
    /// empty for a tensor-based signature, none, or one that does not read.
    pub fn input_names(&self) -> Vec<String> {
        self.input_columns().into_iter().map(|c| c.name).collect()
    }

    /// The columns of a column-based signature's inputs, in order (see
    /// [`crate::columns::parse_columns`]).
    pub fn input_columns(&self) -> Vec<ColumnSpec> {
        self.signature.inputs.as_deref().map(parse_columns).unwrap_or_default()
    }

    /// The Python class MLflow logged (`model_class` of the xgboost or
    /// lightgbm flavor), which decides what pyfunc's `predict` answers.
    pub fn model_class(&self) -> Option<&str> {
        let f = &self.flavors;
        [&f.xgboost, &f.lightgbm].into_iter().flatten().find_map(|x| x.model_class.as_deref())
    }

    /// The flavor to run: XGBoost, LightGBM or ONNX, in that order of preference.
    pub fn flavor(&self) -> Result<Flavor, InferError> {
        let f = &self.flavors;
        if let Some(x) = &f.xgboost {
            let data = x.data.clone().unwrap_or_else(|| "model.xgb".into());
            let format = x
                .model_format
                .clone()
                .unwrap_or_else(|| data.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default());
            return Ok(Flavor::Xgboost { data, format });
        }
        if let Some(x) = &f.lightgbm {
            return lightgbm_flavor(x);
        }
        if let Some(x) = &f.onnx {
            return Ok(Flavor::Onnx { data: x.data.clone().unwrap_or_else(|| "model.onnx".into()) });
        }
        if let Some(x) = &f.sklearn {
            let data = x.pickled_model.clone().unwrap_or_else(|| "model.pkl".into());
            return Ok(Flavor::Sklearn { format: python_format(x.serialization_format.as_deref(), &data)?, data });
        }
        let names: Vec<&str> = f.other.keys().map(String::as_str).collect();
        Err(InferError::Unsupported(format!(
            "no flavor flotilla can run natively (found: {}); supported flavors are xgboost, lightgbm, onnx and sklearn",
            names.join(", ")
        )))
    }
}

/// The lightgbm flavor: a Booster's text file, or a scikit-learn API model
/// (`LGBMRegressor`, `LGBMClassifier`) pickled or in a skops archive.
fn lightgbm_flavor(x: &FlavorFields) -> Result<Flavor, InferError> {
    let class = x.model_class.as_deref().unwrap_or_default();
    if class.is_empty() || class == "lightgbm.basic.Booster" {
        return Ok(Flavor::LightGbm { data: x.data.clone().unwrap_or_else(|| "model.lgb".into()) });
    }
    if !class.starts_with("lightgbm.sklearn.") {
        return Err(InferError::Unsupported(format!("LightGBM model of class '{class}'")));
    }
    let data = x.data.clone().unwrap_or_else(|| "model.pkl".into());
    Ok(Flavor::Sklearn { format: python_format(x.serialization_format.as_deref(), &data)?, data })
}

/// `serialization_format` as MLflow writes it (absent in files from before
/// skops: then the file's extension decides).
fn python_format(format: Option<&str>, data: &str) -> Result<PythonFormat, InferError> {
    match format {
        Some("skops") => Ok(PythonFormat::Skops),
        Some("pickle" | "cloudpickle") => Ok(PythonFormat::Pickle),
        None if data.ends_with(".skops") => Ok(PythonFormat::Skops),
        None => Ok(PythonFormat::Pickle),
        Some(other) => Err(InferError::Unsupported(format!("serialization_format '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors() {
        let cases: &[(&str, Result<Flavor, &str>)] = &[
            (
                "flavors:\n  python_function: {data: model.ubj}\n  xgboost: {data: model.ubj, model_format: ubj}\n",
                Ok(Flavor::Xgboost { data: "model.ubj".into(), format: "ubj".into() }),
            ),
            (
                "flavors:\n  lightgbm: {data: model.lgb, model_class: lightgbm.basic.Booster}\n",
                Ok(Flavor::LightGbm { data: "model.lgb".into() }),
            ),
            ("flavors:\n  onnx: {data: model.onnx}\n", Ok(Flavor::Onnx { data: "model.onnx".into() })),
            (
                "flavors:\n  lightgbm: {data: model.skops, model_class: lightgbm.sklearn.LGBMRegressor, serialization_format: skops}\n",
                Ok(Flavor::Sklearn { data: "model.skops".into(), format: PythonFormat::Skops }),
            ),
            (
                "flavors:\n  sklearn: {pickled_model: model.pkl, serialization_format: cloudpickle}\n",
                Ok(Flavor::Sklearn { data: "model.pkl".into(), format: PythonFormat::Pickle }),
            ),
            (
                "flavors:\n  sklearn: {pickled_model: model.pkl}\n",
                Ok(Flavor::Sklearn { data: "model.pkl".into(), format: PythonFormat::Pickle }),
            ),
            (
                "flavors:\n  sklearn: {pickled_model: m.bin, serialization_format: joblib2}\n",
                Err("serialization_format 'joblib2'"),
            ),
            ("flavors:\n  lightgbm: {model_class: lightgbm.dask.DaskLGBMRegressor}\n", Err("DaskLGBMRegressor")),
            ("flavors:\n  pytorch: {data: model.pth}\n", Err("pytorch")),
        ];
        for (yaml, want) in cases {
            let got = MlModel::parse(yaml.as_bytes()).unwrap().flavor();
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g, w),
                (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{e}"),
                (g, w) => panic!("{yaml}: got {g:?}, want {w:?}"),
            }
        }
        assert!(MlModel::parse(b": : :").is_err());
    }

    #[test]
    fn hostile_files_are_refused_quickly() {
        let nested = |n: usize| format!("flavors: {}{}\n", "[".repeat(n), "]".repeat(n));
        let nested_maps = |n: usize| {
            format!("flavors:\n{}", (0..n).map(|i| format!("{}k:\n", " ".repeat(i + 2))).collect::<String>())
        };
        let many_nodes = format!("flavors:\n  onnx: {{data: model.onnx}}\nx: [{}]\n", vec!["1"; 60_000].join(","));
        let cases: Vec<(String, &str)> = vec![
            (nested(60_000), "MLmodel is not valid"),
            (nested(33), "MLmodel is not valid"),
            (nested_maps(200), "MLmodel is not valid"),
            (many_nodes, "MLmodel is not valid"),
            (format!("flavors: {{}}\nx: '{}'\n", "a".repeat(2 << 20)), "at most 1048576"),
        ];
        for (yaml, fragment) in cases {
            let started = std::time::Instant::now();
            let e = MlModel::parse(yaml.as_bytes()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(fragment), "{}...: {e}", &yaml[..40.min(yaml.len())]);
            assert!(started.elapsed() < std::time::Duration::from_millis(500), "{:?}", started.elapsed());
        }
        // Column names come from a column-based signature only.
        let columns = "flavors:\n  lightgbm:\n    data: m.lgb\nsignature:\n  inputs: '[{\"name\": \"price\", \"type\": \"double\"}, {\"name\": \"qty\", \"type\": \"long\"}]'\n";
        assert_eq!(MlModel::parse(columns.as_bytes()).unwrap().input_names(), ["price", "qty"]);
        // A real MLflow file, signature and all, still parses.
        let real = "artifact_path: model\nflavors:\n  python_function:\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: mlflow.lightgbm\n    python_version: 3.11.2\n  lightgbm:\n    code: null\n    data: model.lgb\n    lgb_version: 4.5.0\n    model_class: lightgbm.basic.Booster\nmlflow_version: 2.22.0\nsignature:\n  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 4]}}]'\n";
        assert_eq!(
            MlModel::parse(real.as_bytes()).unwrap().flavor().unwrap(),
            Flavor::LightGbm { data: "model.lgb".into() }
        );
    }
}
