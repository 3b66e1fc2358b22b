//! Health, version and server-info endpoints, and the answer for unknown URLs.

use axum::Router;
use axum::http::Uri;
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

/// The MLflow version whose API flotilla speaks; clients compare against it.
pub const MLFLOW_COMPAT_VERSION: &str = "3.17.2";

pub(crate) fn routes() -> Router<AppState> {
    routes_but_health().route("/health", get(|| async { "OK" }))
}

/// [`routes`] but `/health`, which `flotilla serve --model` answers for its
/// model (`scoring::bound_routes`).
pub(crate) fn routes_but_health() -> Router<AppState> {
    let server_info = get(|| async {
        axum::Json(json!({
            "store_type": "SqlStore",
            "workspaces_enabled": false,
            "trace_archival_enabled": false,
            "multipart_uploads_enabled": true,
            "multipart_downloads_enabled": false,
            "presigned_upload_run_id_supported": false,
            "presigned_upload_model_id_supported": false,
            "features_enabled": {"gateway": false},
            "server": "flotilla",
            "flotilla_version": env!("CARGO_PKG_VERSION"),
        }))
    });
    Router::new()
        .route("/version", get(|| async { MLFLOW_COMPAT_VERSION }))
        .route("/api/3.0/mlflow/server-info", server_info.clone())
        .route("/ajax-api/3.0/mlflow/server-info", server_info)
}

pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::new(
        flotilla_core::ErrorKind::InvalidParameter,
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        format!("Method {method} is not allowed for {}", uri.path()),
    )
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::endpoint_not_found(format!("No endpoint at {}", uri.path()))
}
