//! MLflow's tracking and registry REST API (`/api/2.0/mlflow/...`), mounted
//! under every prefix the real server uses (`/api/{2,3}.0`, `/ajax-api/{2,3}.0`).

mod experiments;
mod logged_models;
pub(crate) mod models;
mod registry;
mod runs;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_core::model::Page;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// The empty response message, `{}`.
pub(crate) fn empty() -> axum::Json<Value> {
    axum::Json(json!({}))
}

/// A page of a search answer, `{"<field>": [...], "next_page_token": "..."}`,
/// serialized straight from the items into one buffer sized up front: a
/// `Value` tree first cost a third of a 1,000-run answer in allocations.
pub(crate) struct Paged<T> {
    field: &'static str,
    page: Page<T>,
    /// Leave the list out when it is empty, as MLflow does for runs.
    omit_empty: bool,
}

impl<T: Serialize> Paged<T> {
    pub(crate) fn new(field: &'static str, page: Page<T>) -> Self {
        Self { field, page, omit_empty: false }
    }

    pub(crate) fn omitting_empty(field: &'static str, page: Page<T>) -> Self {
        Self { field, page, omit_empty: true }
    }
}

impl<T: Serialize> Serialize for Paged<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if !(self.omit_empty && self.page.items.is_empty()) {
            map.serialize_entry(self.field, &self.page.items)?;
        }
        if let Some(token) = &self.page.next_page_token {
            map.serialize_entry("next_page_token", token)?;
        }
        map.end()
    }
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(256 + 512 * self.page.items.len());
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "serializing a page failed");
                ApiError::internal().into_response()
            }
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    let api = Router::new()
        .merge(experiments::routes())
        .merge(runs::routes())
        .merge(logged_models::routes())
        .merge(registry::routes())
        .route("/mlflow/ping", get(|| async { "OK" }).post(|| async { "OK" }));
    Router::new()
        .nest("/api/2.0", api.clone())
        .nest("/api/3.0", api.clone())
        .nest("/ajax-api/2.0", api.clone())
        .nest("/ajax-api/3.0", api)
}
