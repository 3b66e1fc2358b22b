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

/// Which rows a search may return: the caller's readable set, filtered in
/// the query so pages stay full and tokens exact. A row is visible when it
/// is not in `ids_out`, and is in `ids_in`, or else not a member of a family
/// in `families_out` and (a member of one in `families_in`, or `all`).
/// `*` among the families is every family. Ids are experiment ids or
/// registered model names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub all: bool,
    pub ids_in: Vec<String>,
    pub ids_out: Vec<String>,
    pub families_in: Vec<String>,
    pub families_out: Vec<String>,
}

impl Default for Visible {
    fn default() -> Self {
        Self::everything()
    }
}

impl Visible {
    pub fn everything() -> Self {
        Self { all: true, ids_in: Vec::new(), ids_out: Vec::new(), families_in: Vec::new(), families_out: Vec::new() }
    }
    pub fn is_everything(&self) -> bool {
        self.all && self.ids_out.is_empty() && self.families_out.is_empty()
    }
    /// Whether an id (with its family, if any) is visible.
    pub fn admits(&self, id: &str, family: Option<&str>) -> bool {
        let member = |list: &[String]| family.is_some_and(|f| list.iter().any(|l| l == "*" || l == f));
        !self.ids_out.iter().any(|i| i == id)
            && (self.ids_in.iter().any(|i| i == id)
                || (!member(&self.families_out) && (self.all || member(&self.families_in))))
    }
}

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
