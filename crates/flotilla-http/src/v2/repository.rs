//! The model-repository extension: an index that takes filters and a page
//! token (a full list of a million models is no answer), load and unload.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flotilla_serving::ModelRef;
use flotilla_store::{PageRequest, RegistryQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::V2Error;
use super::serving;
use crate::AppState;

/// Response header carrying the next page's token.
pub const NEXT_PAGE_HEADER: &str = "x-flotilla-next-page-token";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/repository/index", post(index))
        .route("/v2/repository/models/{model}/load", post(load))
        .route("/v2/repository/models/{model}/unload", post(unload))
}

#[derive(Deserialize, Default)]
pub(crate) struct IndexRequest {
    /// Only models loaded in memory.
    pub ready: Option<bool>,
    /// Only names starting with this prefix.
    pub name_prefix: Option<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// One model of the index: its newest version, and whether it is in memory.
pub(crate) struct IndexEntry {
    pub name: String,
    pub version: String,
    pub state: &'static str,
    pub reason: &'static str,
}

async fn index(State(s): State<AppState>, body: Bytes) -> Result<Response, V2Error> {
    // The real tritonclient posts an empty body here.
    let req: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| V2Error::bad_request(format!("malformed index request: {e}")))?
    };
    let (entries, next_page_token) = index_page(&s, req).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "name": e.name, "version": e.version, "state": e.state, "reason": e.reason }))
        .collect();
    let mut response = axum::Json(Value::Array(items)).into_response();
    if let Some(token) = next_page_token.and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(NEXT_PAGE_HEADER, token);
    }
    Ok(response)
}

/// A page of the index (V2 over HTTP and gRPC), and the next page's token.
pub(crate) async fn index_page(s: &AppState, req: IndexRequest) -> Result<(Vec<IndexEntry>, Option<String>), V2Error> {
    let serving = serving(s)?;
    // No filter to parse: the index narrows by name prefix only.
    let query = RegistryQuery {
        filter: vec![],
        name_prefix: req.name_prefix,
        order_by: vec![],
        page: PageRequest { max_results: Some(req.max_results.unwrap_or(1000).min(1000)), page_token: req.page_token },
        // Admins only: they see everything.
        visible: Default::default(),
    };
    let page = s.call(move |st| st.search_registered_models(&query)).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for m in &page.items {
        let newest = m.latest_versions.iter().map(|v| v.version).max();
        let Some(version) = newest else { continue };
        let loaded = serving.cache.is_loaded(&m.name, version);
        if req.ready == Some(true) && !loaded {
            continue;
        }
        let (state, reason) =
            if loaded { ("READY", "") } else { ("UNAVAILABLE", "not in memory; loads on first request") };
        items.push(IndexEntry { name: m.name.clone(), version: version.to_string(), state, reason });
    }
    Ok((items, page.next_page_token))
}

async fn load(State(s): State<AppState>, Path(model): Path<String>) -> Result<axum::Json<Value>, V2Error> {
    serving(&s)?.model(&ModelRef::parse(&model, None)?).await?;
    Ok(axum::Json(json!({})))
}

async fn unload(State(s): State<AppState>, Path(model): Path<String>) -> Result<axum::Json<Value>, V2Error> {
    let r = ModelRef::parse(&model, None)?;
    serving(&s)?.cache.unload(&r.name, None);
    Ok(axum::Json(json!({})))
}
