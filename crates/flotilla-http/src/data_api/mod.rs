//! The native data API, `/api/data/v1`: datasets as entities and lineage
//! walked both ways (downstream from a dataset to runs and model versions,
//! upstream from a version, an alias or a served partition to its run and
//! datasets) and stale data (aliased versions trained on a dataset whose
//! name has a newer digest). Described with the fleet API in its OpenAPI
//! document; errors use the MLflow shape like the rest of the server. Every
//! answer holds only what the caller may read (`Sees`), filtered in the
//! store's queries; the answers are `flotilla_app::data::answer`'s, which
//! the CLI gives on a data directory.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;

mod profile;
use flotilla_app::data::{self, DataRoute};
use flotilla_store::Readable;
pub(crate) use profile::UploadLimit;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiResult;
use crate::permissions::Sees;

pub(crate) fn routes(upload_limit: u64) -> Router<AppState> {
    Router::new()
        .route("/api/data/v1/datasets/{name}/{digest}/profile", get(profile::get).post(profile::put))
        .layer(axum::Extension(profile::UploadLimit(upload_limit)))
        .route("/api/data/v1/datasets", get(list_datasets))
        .route("/api/data/v1/datasets/{name}/{digest}", get(get_dataset))
        .route("/api/data/v1/lineage/downstream", get(downstream))
        .route("/api/data/v1/lineage/upstream", get(upstream))
        .route("/api/data/v1/lineage/stale", get(stale))
}

async fn answer(s: AppState, sees: Sees, route: DataRoute, raw: Option<String>) -> ApiResult<Json<Value>> {
    let readable = Readable { experiments: sees.experiments(), models: sees.models() };
    let raw = raw.unwrap_or_default();
    Ok(Json(s.call(move |st| data::answer(st, &route, &raw, readable)).await?))
}

async fn list_datasets(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    answer(s, sees, DataRoute::Datasets, raw).await
}

async fn get_dataset(
    State(s): State<AppState>,
    sees: Sees,
    Path((name, digest)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    answer(s, sees, DataRoute::Dataset { name, digest }, raw).await
}

async fn downstream(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    answer(s, sees, DataRoute::Downstream, raw).await
}

async fn upstream(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    answer(s, sees, DataRoute::Upstream, raw).await
}

async fn stale(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    answer(s, sees, DataRoute::Stale, raw).await
}
