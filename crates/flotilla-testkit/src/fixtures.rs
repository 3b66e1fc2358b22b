//! The smallest servable model: a two-feature LightGBM tree (`x0 <= 0.5 ? 1 : 2`) and its
//! `MLmodel`, uploaded through the artifact proxy and registered as a version.

use serde_json::json;

use crate::client::Client;

/// `x0 <= 0.5 ? 1 : 2` over two features, as LightGBM writes it.
pub const LIGHTGBM_MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=regression\nfeature_names=f0 f1\nfeature_infos=[0:1] [0:1]\ntree_sizes=300\n\n\
Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\n\
left_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=1 1\n\
internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";

/// The `MLmodel` naming [`LIGHTGBM_MODEL`] as `model.lgb`.
pub const MLMODEL: &str = "flavors:\n  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";

/// A V2 infer body of one row for the model above (answers 2.0).
pub fn infer_body() -> serde_json::Value {
    json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.9, 0.0]}]})
}

/// Uploads the model under the artifact directory `dir` and registers it as a new version of
/// `name` (created if missing); returns the version number.
pub async fn register_lightgbm(client: &mut Client, name: &str, dir: &str) -> Result<String, String> {
    for (file, body) in [("MLmodel", MLMODEL), ("model.lgb", LIGHTGBM_MODEL)] {
        let path = format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}");
        let answer = client
            .send(hyper::Method::PUT, &path, Some(("application/octet-stream", body.as_bytes().to_vec().into())))
            .await?;
        if !answer.ok() {
            return Err(format!("uploading {file}: {} {}", answer.status, answer.text()));
        }
    }
    let created = client.post("/api/2.0/mlflow/registered-models/create", &json!({ "name": name })).await?;
    if !created.ok() && created.json()["error_code"] != "RESOURCE_ALREADY_EXISTS" {
        return Err(format!("creating {name}: {} {}", created.status, created.text()));
    }
    let version = client
        .call(
            hyper::Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            &json!({ "name": name, "source": format!("mlflow-artifacts:/{dir}") }),
        )
        .await?;
    version["model_version"]["version"].as_str().map(str::to_owned).ok_or_else(|| format!("no version in {version}"))
}
