//! The `MLmodel` file an MLflow client writes beside a model: which flavor,
//! which data file, which format.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::InferError;

#[derive(Debug, Deserialize)]
pub struct MlModel {
    #[serde(default)]
    pub flavors: BTreeMap<String, serde_yaml::Value>,
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
}

fn field(v: &serde_yaml::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

impl MlModel {
    pub fn parse(bytes: &[u8]) -> Result<Self, InferError> {
        serde_yaml::from_slice(bytes).map_err(|e| InferError::InvalidModel(format!("MLmodel is not valid YAML: {e}")))
    }

    /// The flavor to run: XGBoost, LightGBM or ONNX, in that order of preference.
    pub fn flavor(&self) -> Result<Flavor, InferError> {
        if let Some(x) = self.flavors.get("xgboost") {
            let data = field(x, "data").unwrap_or_else(|| "model.xgb".into());
            let format = field(x, "model_format")
                .unwrap_or_else(|| data.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default());
            return Ok(Flavor::Xgboost { data, format });
        }
        if let Some(x) = self.flavors.get("lightgbm") {
            let class = field(x, "model_class").unwrap_or_default();
            if !class.is_empty() && class != "lightgbm.basic.Booster" {
                return Err(InferError::Unsupported(format!(
                    "LightGBM model of class '{class}' is pickled and needs Python; log `model.booster_` (a lightgbm.Booster) or export to ONNX"
                )));
            }
            return Ok(Flavor::LightGbm { data: field(x, "data").unwrap_or_else(|| "model.lgb".into()) });
        }
        if let Some(x) = self.flavors.get("onnx") {
            return Ok(Flavor::Onnx { data: field(x, "data").unwrap_or_else(|| "model.onnx".into()) });
        }
        let names: Vec<&str> = self.flavors.keys().map(String::as_str).collect();
        Err(InferError::Unsupported(format!(
            "no flavor flotilla can run natively (found: {}); supported flavors are xgboost, lightgbm and onnx",
            names.join(", ")
        )))
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
            ("flavors:\n  lightgbm: {model_class: lightgbm.sklearn.LGBMRegressor}\n", Err("booster_")),
            ("flavors:\n  sklearn: {pickled_model: model.pkl}\n", Err("sklearn")),
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
}
