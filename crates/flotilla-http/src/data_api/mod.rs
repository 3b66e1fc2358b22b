//! The native data API, `/api/data/v1`: datasets as entities and lineage
//! walked both ways (downstream from a dataset to runs and model versions,
//! upstream from a version, an alias or a served partition to its run and
//! datasets) and stale data (aliased versions trained on a dataset whose
//! name has a newer digest). Described with the fleet API in its OpenAPI
//! document; errors use the MLflow shape like the rest of the server. Every
//! answer holds only what the caller may read (`Sees`), filtered in the
//! store's queries.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use flotilla_app::data;
use flotilla_store::Readable;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::permissions::Sees;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/data/v1/datasets", get(list_datasets))
        .route("/api/data/v1/datasets/{name}/{digest}", get(get_dataset))
        .route("/api/data/v1/lineage/downstream", get(downstream))
        .route("/api/data/v1/lineage/upstream", get(upstream))
        .route("/api/data/v1/lineage/stale", get(stale))
}

fn readable(sees: &Sees) -> Readable {
    Readable { experiments: sees.experiments(), models: sees.models() }
}

async fn list_datasets(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q = flotilla_store::datasets::DatasetQuery {
        readable: readable(&sees),
        ..data::datasets_query(raw.as_deref().unwrap_or(""))?
    };
    let page = s.call(move |st| st.list_datasets(&q)).await?;
    Ok(Json(json!({ "datasets": page.items, "next_page_token": page.next_page_token })))
}

async fn get_dataset(
    State(s): State<AppState>,
    sees: Sees,
    Path((name, digest)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let readable = readable(&sees);
    let dataset = s.call(move |st| st.get_dataset(&name, &digest, &readable)).await?;
    Ok(Json(json!({ "dataset": dataset })))
}

async fn downstream(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q = flotilla_store::lineage::DownstreamQuery {
        readable: readable(&sees),
        ..data::downstream_query(raw.as_deref().unwrap_or(""))?
    };
    let answer = s.call(move |st| st.downstream(&q)).await?;
    Ok(Json(json!(answer)))
}

async fn upstream(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let target = data::upstream_target(raw.as_deref().unwrap_or(""))?;
    let readable = readable(&sees);
    let (up, resolved) = s.call(move |st| data::upstream(st, &target, &readable)).await?;
    let mut answer = json!(up);
    if let Some(r) = resolved {
        answer["resolved"] = json!(r);
    }
    Ok(Json(answer))
}

async fn stale(State(s): State<AppState>, sees: Sees, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q = flotilla_store::lineage::StaleQuery {
        readable: readable(&sees),
        ..data::stale_query(raw.as_deref().unwrap_or(""))?
    };
    let page = s.call(move |st| st.stale_versions(&q)).await?;
    Ok(Json(json!({ "versions": page.items, "next_page_token": page.next_page_token })))
}
