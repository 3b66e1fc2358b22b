//! Request types for the store: new entities, updates and search queries.
//!
//! A search query arrives typed: its filter and its order are clauses and
//! orderings already parsed and checked for their endpoint (by the
//! application layer, with `flotilla_core::filter`); the store only turns
//! them into SQL.

use flotilla_core::filter::{Clause, OrderBy};
use flotilla_core::model::{RunStatus, Tag, ViewType};

/// Page size and cursor as the client sent them; validated by the store.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ExperimentQuery {
    pub filter: Vec<Clause>,
    pub order_by: Vec<OrderBy>,
    pub view: ViewType,
    pub page: PageRequest,
    /// The experiments the caller may read (ids).
    pub visible: Visible,
}

/// Which rows a search may return (the caller's readable set).
pub use flotilla_core::visible::Visible;

#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub experiment_ids: Vec<String>,
    pub filter: Vec<Clause>,
    pub order_by: Vec<OrderBy>,
    pub view: ViewType,
    pub page: PageRequest,
}

/// Registered-model and model-version searches share a shape.
#[derive(Debug, Clone, Default)]
pub struct RegistryQuery {
    pub filter: Vec<Clause>,
    /// Only names starting with this text, taken literally (a range on the
    /// name index; `%` and `_` are no wildcards here). Registered models only.
    pub name_prefix: Option<String>,
    pub order_by: Vec<OrderBy>,
    pub page: PageRequest,
    /// The registered models the caller may read (names).
    pub visible: Visible,
}

#[derive(Debug, Clone, Default)]
pub struct LoggedModelQuery {
    pub experiment_ids: Vec<String>,
    pub filter: Vec<Clause>,
    /// MLflow's structured order_by for logged models, field by field.
    pub order_by: Vec<LoggedModelOrder>,
    pub page: PageRequest,
}

/// One entry of a logged-model search's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedModelOrder {
    pub key: LoggedModelKey,
    pub ascending: bool,
}

/// What a logged-model search can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelKey {
    Name,
    CreationTime,
    LastUpdateTime,
    ModelId,
}

#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub experiment_id: String,
    pub user_id: String,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Tag>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}
