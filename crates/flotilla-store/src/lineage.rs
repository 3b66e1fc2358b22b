//! Lineage (SQLite: `sqlite/lineage.rs`): from a dataset down to the runs
//! and model versions it trained (which are aliased now, counts per
//! family), from a version up to its run and datasets, and the aliased
//! versions trained on data that has a newer digest since. Every answer
//! holds only rows the caller may read, filtered in the query.

use flotilla_core::VersionNumber;
use flotilla_core::lineage::{Downstream, StaleVersion, Upstream};
use flotilla_core::model::Page;

use crate::PageRequest;
use crate::datasets::Readable;
use crate::error::StoreResult;

/// Which list a downstream page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DownstreamOf {
    #[default]
    Versions,
    Runs,
}

#[derive(Debug, Clone, Default)]
pub struct DownstreamQuery {
    pub name: String,
    pub digest: String,
    pub of: DownstreamOf,
    /// Only versions an alias points at now.
    pub aliased_only: bool,
    pub page: PageRequest,
    pub readable: Readable,
}

#[derive(Debug, Clone, Default)]
pub struct StaleQuery {
    /// Only links in this context (`training` when the API is not told).
    pub context: Option<String>,
    /// Only this alias.
    pub alias: Option<String>,
    pub page: PageRequest,
    pub readable: Readable,
}

/// Lineage walks (SQLite: `sqlite/lineage.rs`).
pub trait LineageStore: Send + Sync {
    fn downstream(&self, query: &DownstreamQuery) -> StoreResult<Downstream>;
    /// The run and datasets behind a version the caller may read.
    fn upstream(&self, model: &str, version: VersionNumber, readable: &Readable) -> StoreResult<Upstream>;
    fn stale_versions(&self, query: &StaleQuery) -> StoreResult<Page<StaleVersion>>;
}
