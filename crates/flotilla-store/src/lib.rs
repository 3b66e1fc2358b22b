//! The metadata store: one interface ([`Store`]) and its backends.
//!
//! [`Store`] is the sum of one trait per area (experiments, runs, logged
//! models, registry, families, bulk changes, promotion and audit, fleet
//! search, version search, insights, auth, garbage collection); a backend implements each area trait
//! once, in that area's file.
//!
//! Architecture invariant: this crate knows SQL and nothing of HTTP. Every
//! write is one transaction: a request that fails writes nothing. Every search
//! is keyset-paged with opaque tokens (see [`paging`]) and backed by an index.
//! The same behaviour suite (`tests/suite`) runs against every backend.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod budget;
pub mod datasets;
mod error;
pub mod fleet;
mod fleet_checks;
pub mod gc;
pub mod health;
mod health_plan;
pub mod import;
pub mod insights;
pub mod lineage;
pub mod monitor;
pub mod paging;
pub mod postgres;
pub mod prelude;
pub mod profiles;
pub mod query;
pub mod report;
pub mod schema;
pub mod session;
pub mod sqlite;

pub use alerts::AlertStore;
pub use audit::AuditStore;
pub use auth::AuthStore;
pub use budget::Budget;
pub use datasets::{DatasetStore, Readable};
pub use error::{StoreError, StoreResult};
pub use fleet::{BulkStore, FamilyStore, FleetSearchStore, PromotionStore, VersionSearchStore};
pub use gc::GcStore;
pub use health::HealthStore;
pub use import::ImportStore;
pub use insights::InsightStore;
pub use lineage::LineageStore;
pub use monitor::MonitorStore;
pub use postgres::PgStore;
pub use profiles::DatasetProfileStore;
pub use query::*;
pub use report::{ReportScheduleStore, ReportSectionStore, ReportStore};
pub use schema::{SchemaStatus, Upgrade};
pub use session::SessionStore;
pub use sqlite::{SearchPlanning, SqliteStore};

use flotilla_core::VersionNumber;
use flotilla_core::model::{
    DatasetInput, Experiment, LoggedModel, LoggedModelStatus, Metric, ModelInput, ModelOutput, ModelVersion, Page,
    RegisteredModel, Run, RunInfo, Tag,
};

/// Experiments and their tags (SQLite: `sqlite/experiments.rs`).
pub trait ExperimentStore: Send + Sync {
    fn create_experiment(&self, name: &str, artifact_location: Option<&str>, tags: &[Tag]) -> StoreResult<String> {
        self.create_experiment_owned(name, artifact_location, tags, None)
    }
    /// Creates an experiment; `owner` (a user id) gets MANAGE on it in the
    /// same transaction.
    fn create_experiment_owned(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
        owner: Option<i64>,
    ) -> StoreResult<String>;
    fn get_experiment(&self, experiment_id: &str) -> StoreResult<Experiment>;
    fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment>;
    fn search_experiments(&self, query: &ExperimentQuery) -> StoreResult<Page<Experiment>>;
    fn delete_experiment(&self, experiment_id: &str) -> StoreResult<()>;
    fn restore_experiment(&self, experiment_id: &str) -> StoreResult<()>;
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> StoreResult<()>;
    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> StoreResult<()>;
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> StoreResult<()>;
}

/// Runs, their metrics, params, tags and dataset inputs, and run search
/// (SQLite: `sqlite/runs.rs`).
pub trait RunStore: Send + Sync {
    fn create_run(&self, run: &NewRun) -> StoreResult<Run>;
    fn get_run(&self, run_id: &str) -> StoreResult<Run>;
    fn update_run(&self, run_id: &str, update: &RunUpdate) -> StoreResult<RunInfo>;
    fn delete_run(&self, run_id: &str) -> StoreResult<()>;
    fn restore_run(&self, run_id: &str) -> StoreResult<()>;
    /// Metrics, params and tags in one transaction (also behind log-metric,
    /// log-parameter and set-tag).
    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> StoreResult<()>;
    fn delete_run_tag(&self, run_id: &str, key: &str) -> StoreResult<()>;
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput], models: &[ModelInput]) -> StoreResult<()>;
    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> StoreResult<()>;
    /// MLflow 2.x `runs/log-model`: appends the model's JSON to the run's
    /// `mlflow.log-model.history` tag.
    fn record_logged_model(&self, run_id: &str, model_json: &str) -> StoreResult<()>;
    fn metric_history(&self, run_id: &str, key: &str, page: &PageRequest) -> StoreResult<Page<Metric>>;
    fn search_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>>;
}

/// MLflow 3.x logged models (SQLite: `sqlite/logged_models.rs`).
pub trait LoggedModelStore: Send + Sync {
    fn create_logged_model(&self, model: &NewLoggedModel) -> StoreResult<LoggedModel>;
    fn get_logged_model(&self, model_id: &str) -> StoreResult<LoggedModel>;
    fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> StoreResult<LoggedModel>;
    fn delete_logged_model(&self, model_id: &str) -> StoreResult<()>;
    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> StoreResult<LoggedModel>;
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> StoreResult<()>;
    fn log_logged_model_params(&self, model_id: &str, params: &[Tag]) -> StoreResult<()>;
    fn search_logged_models(&self, query: &LoggedModelQuery) -> StoreResult<Page<LoggedModel>>;
}

/// The model registry: registered models, versions, tags, aliases, stages
/// (SQLite: `sqlite/registry.rs`).
pub trait RegistryStore: Send + Sync {
    fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> StoreResult<RegisteredModel> {
        self.create_registered_model_owned(name, tags, description, None)
    }
    /// Creates a registered model; `owner` (a user id) gets MANAGE on it in
    /// the same transaction. Deleting the model deletes every grant on it,
    /// renaming it moves them.
    fn create_registered_model_owned(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
        owner: Option<i64>,
    ) -> StoreResult<RegisteredModel>;
    fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel>;
    fn rename_registered_model(&self, name: &str, new_name: &str) -> StoreResult<RegisteredModel>;
    fn update_registered_model(&self, name: &str, description: Option<&str>) -> StoreResult<RegisteredModel>;
    fn delete_registered_model(&self, name: &str) -> StoreResult<()>;
    fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> StoreResult<()>;
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> StoreResult<()>;
    fn search_registered_models(&self, query: &RegistryQuery) -> StoreResult<Page<RegisteredModel>>;
    fn get_latest_versions(&self, name: &str, stages: &[String]) -> StoreResult<Vec<ModelVersion>>;

    fn create_model_version(&self, version: &NewModelVersion) -> StoreResult<ModelVersion>;
    /// `version` is MLflow's request parameter as sent (a string the store
    /// parses, answering a bad one and echoing it in "not found" as MLflow
    /// does); callers holding a number use [`RegistryStore::get_version`].
    fn get_model_version(&self, name: &str, version: &str) -> StoreResult<ModelVersion>;
    /// Version `version` of `name`.
    fn get_version(&self, name: &str, version: VersionNumber) -> StoreResult<ModelVersion>;
    fn update_model_version(&self, name: &str, version: &str, description: Option<&str>) -> StoreResult<ModelVersion>;
    fn delete_model_version(&self, name: &str, version: &str) -> StoreResult<()>;
    fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> StoreResult<ModelVersion>;
    fn search_model_versions(&self, query: &RegistryQuery) -> StoreResult<Page<ModelVersion>>;
    fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> StoreResult<()>;
    fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> StoreResult<()>;
    /// Moves an alias as the MLflow API's unnamed actor (`mlflow-api`, unverified).
    fn set_alias(&self, name: &str, alias: &str, version: &str) -> StoreResult<()> {
        self.set_alias_by(name, alias, version, &fleet::ChangeContext::mlflow_api())
    }
    fn delete_alias(&self, name: &str, alias: &str) -> StoreResult<()> {
        self.delete_alias_by(name, alias, &fleet::ChangeContext::mlflow_api())
    }
    /// Moves an alias; the audit log records `ctx`'s actor.
    fn set_alias_by(&self, name: &str, alias: &str, version: &str, ctx: &fleet::ChangeContext) -> StoreResult<()>;
    fn delete_alias_by(&self, name: &str, alias: &str, ctx: &fleet::ChangeContext) -> StoreResult<()>;
    /// The version `alias` points at, `None` if the model has no such alias
    /// (an unknown model is `NotFound`).
    fn find_version_by_alias(&self, name: &str, alias: &str) -> StoreResult<Option<ModelVersion>>;
    /// [`RegistryStore::find_version_by_alias`] as MLflow answers it: an
    /// unknown alias is `InvalidParameter`, and clients rely on it.
    fn get_version_by_alias(&self, name: &str, alias: &str) -> StoreResult<ModelVersion> {
        self.find_version_by_alias(name, alias)?
            .ok_or_else(|| flotilla_core::Error::invalid(format!("Registered model alias {alias} not found.")).into())
    }
    /// A number that changes whenever this store's registry changes, so
    /// serving can cache "which version answers" and see a move at once.
    fn registry_generation(&self) -> u64;
}

/// Everything a flotilla server needs from its metadata store: the sum of
/// the area traits, implemented for every type that implements them all.
/// Methods called on a `dyn Store` need no import; on a concrete store, bring
/// the area traits in with [`prelude`].
pub trait Store:
    ExperimentStore
    + RunStore
    + LoggedModelStore
    + RegistryStore
    + FamilyStore
    + BulkStore
    + PromotionStore
    + FleetSearchStore
    + VersionSearchStore
    + InsightStore
    + AuthStore
    + SessionStore
    + AuditStore
    + DatasetStore
    + LineageStore
    + DatasetProfileStore
    + HealthStore
    + AlertStore
    + MonitorStore
    + ReportStore
    + ReportSectionStore
    + ReportScheduleStore
    + GcStore
{
}

impl<T> Store for T where
    T: ExperimentStore
        + RunStore
        + LoggedModelStore
        + RegistryStore
        + FamilyStore
        + BulkStore
        + PromotionStore
        + FleetSearchStore
        + VersionSearchStore
        + InsightStore
        + AuthStore
        + SessionStore
        + AuditStore
        + DatasetStore
        + LineageStore
        + DatasetProfileStore
        + HealthStore
        + AlertStore
        + MonitorStore
        + ReportStore
        + ReportSectionStore
        + ReportScheduleStore
        + GcStore
{
}
