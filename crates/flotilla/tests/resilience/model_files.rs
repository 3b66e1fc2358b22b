//! Hostile model files: an `MLmodel` of deeply nested or merely large YAML,
//! and a model file larger than the model-memory budget. Loading them must
//! not stall other requests (`/health` stays fast), a failed load is
//! remembered rather than parsed again per request, and a file too large for
//! the budget is refused without being read.

use serde_json::json;

use crate::harness::Server;

/// `x0 <= 0.5 ? 1 : 2` over two features, as LightGBM writes it.
pub const LIGHTGBM_MODEL: &str = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
max_feature_idx=1\nobjective=regression\nfeature_names=f0 f1\nfeature_infos=[0:1] [0:1]\ntree_sizes=300\n\n\
Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=2\n\
left_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=1 1\n\
internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";

pub const MLMODEL: &str = "flavors:\n  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";

/// Uploads `files` under the artifact directory `dir` and registers them as
/// a new version of `name`.
pub fn register(server: &Server, name: &str, dir: &str, files: &[(&str, &[u8])]) {
    for (file, body) in files {
        let reply = server.request("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/{dir}/{file}"), &[], body);
        assert_eq!(reply.status, 200, "upload {file}: {}", reply.text());
    }
    server.post_json("/api/2.0/mlflow/registered-models/create", &json!({ "name": name }));
    let reply = server.post_json(
        "/api/2.0/mlflow/model-versions/create",
        &json!({ "name": name, "source": format!("mlflow-artifacts:/{dir}") }),
    );
    assert_eq!(reply.status, 200, "register {name}: {}", reply.text());
}

/// Registers the two-feature LightGBM model as `name`.
pub fn register_lightgbm(server: &Server, name: &str, dir: &str) {
    register(server, name, dir, &[("MLmodel", MLMODEL.as_bytes()), ("model.lgb", LIGHTGBM_MODEL.as_bytes())]);
}
