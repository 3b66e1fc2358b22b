//! The [`Store`](crate::Store) traits for [`SqliteStore`], delegating to the
//! per-area modules.

use flotilla_core::model::{
    DatasetInput, Experiment, LifecycleStage, LoggedModel, LoggedModelStatus, Metric, ModelInput, ModelOutput,
    ModelVersion, Page, RegisteredModel, Run, RunInfo, Tag,
};

use flotilla_core::fleet::{Facets, Family, FleetModel, FleetQuery, PartitionValue};
use flotilla_core::fleet_versions::{FleetVersion, VersionQuery};

use super::SqliteStore;
use crate::error::StoreResult;
use crate::fleet::{
    AliasChange, AliasEvent, AliasReport, AuditQuery, BulkVersion, ChangeContext, FleetStore, NewFamily,
    PartitionTarget, PromotionRule, RegisteredVersion,
};
use crate::{
    ExperimentQuery, LoggedModelQuery, LoggedModelStore, NewLoggedModel, NewModelVersion, NewRun, PageRequest,
    RegistryQuery, RegistryStore, RunQuery, RunUpdate, TrackingStore,
};

impl TrackingStore for SqliteStore {
    fn create_experiment(&self, name: &str, artifact_location: Option<&str>, tags: &[Tag]) -> StoreResult<String> {
        self.create_experiment_impl(name, artifact_location, tags)
    }
    fn get_experiment(&self, experiment_id: &str) -> StoreResult<Experiment> {
        self.get_experiment_impl(experiment_id)
    }
    fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment> {
        self.get_experiment_by_name_impl(name)
    }
    fn search_experiments(&self, query: &ExperimentQuery) -> StoreResult<Page<Experiment>> {
        self.search_experiments_impl(query)
    }
    fn delete_experiment(&self, experiment_id: &str) -> StoreResult<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Deleted)
    }
    fn restore_experiment(&self, experiment_id: &str) -> StoreResult<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Active)
    }
    fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> StoreResult<()> {
        self.rename_experiment_impl(experiment_id, new_name)
    }
    fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> StoreResult<()> {
        self.set_experiment_tag_impl(experiment_id, tag)
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> StoreResult<()> {
        self.delete_experiment_tag_impl(experiment_id, key)
    }
    fn create_run(&self, run: &NewRun) -> StoreResult<Run> {
        self.create_run_impl(run)
    }
    fn get_run(&self, run_id: &str) -> StoreResult<Run> {
        self.get_run_impl(run_id)
    }
    fn update_run(&self, run_id: &str, update: &RunUpdate) -> StoreResult<RunInfo> {
        self.update_run_impl(run_id, update)
    }
    fn delete_run(&self, run_id: &str) -> StoreResult<()> {
        self.set_run_stage(run_id, LifecycleStage::Deleted)
    }
    fn restore_run(&self, run_id: &str) -> StoreResult<()> {
        self.set_run_stage(run_id, LifecycleStage::Active)
    }
    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> StoreResult<()> {
        self.log_batch_impl(run_id, metrics, params, tags)
    }
    fn delete_run_tag(&self, run_id: &str, key: &str) -> StoreResult<()> {
        self.delete_run_tag_impl(run_id, key)
    }
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput], models: &[ModelInput]) -> StoreResult<()> {
        self.log_inputs_impl(run_id, datasets, models)
    }
    fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> StoreResult<()> {
        self.log_outputs_impl(run_id, models)
    }
    fn record_logged_model(&self, run_id: &str, model_json: &str) -> StoreResult<()> {
        self.record_logged_model_impl(run_id, model_json)
    }
    fn metric_history(&self, run_id: &str, key: &str, page: &PageRequest) -> StoreResult<Page<Metric>> {
        self.metric_history_impl(run_id, key, page)
    }
    fn search_runs(&self, query: &RunQuery) -> StoreResult<Page<Run>> {
        self.search_runs_impl(query)
    }
}

impl LoggedModelStore for SqliteStore {
    fn create_logged_model(&self, model: &NewLoggedModel) -> StoreResult<LoggedModel> {
        self.create_logged_model_impl(model)
    }
    fn get_logged_model(&self, model_id: &str) -> StoreResult<LoggedModel> {
        self.get_logged_model_impl(model_id)
    }
    fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> StoreResult<LoggedModel> {
        self.finalize_logged_model_impl(model_id, status)
    }
    fn delete_logged_model(&self, model_id: &str) -> StoreResult<()> {
        self.delete_logged_model_impl(model_id)
    }
    fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> StoreResult<LoggedModel> {
        self.set_logged_model_tags_impl(model_id, tags)
    }
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> StoreResult<()> {
        self.delete_logged_model_tag_impl(model_id, key)
    }
    fn log_logged_model_params(&self, model_id: &str, params: &[Tag]) -> StoreResult<()> {
        self.log_logged_model_params_impl(model_id, params)
    }
    fn search_logged_models(&self, query: &LoggedModelQuery) -> StoreResult<Page<LoggedModel>> {
        self.search_logged_models_impl(query)
    }
}

impl RegistryStore for SqliteStore {
    fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> StoreResult<RegisteredModel> {
        self.create_registered_model_impl(name, tags, description)
    }
    fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel> {
        self.get_registered_model_impl(name)
    }
    fn rename_registered_model(&self, name: &str, new_name: &str) -> StoreResult<RegisteredModel> {
        self.rename_registered_model_impl(name, new_name)
    }
    fn update_registered_model(&self, name: &str, description: Option<&str>) -> StoreResult<RegisteredModel> {
        self.update_registered_model_impl(name, description)
    }
    fn delete_registered_model(&self, name: &str) -> StoreResult<()> {
        self.delete_registered_model_impl(name)
    }
    fn search_registered_models(&self, query: &RegistryQuery) -> StoreResult<Page<RegisteredModel>> {
        self.search_registered_models_impl(query)
    }
    fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> StoreResult<()> {
        self.set_registered_model_tag_impl(name, tag)
    }
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> StoreResult<()> {
        self.delete_registered_model_tag_impl(name, key)
    }
    fn get_latest_versions(&self, name: &str, stages: &[String]) -> StoreResult<Vec<ModelVersion>> {
        self.get_latest_versions_impl(name, stages)
    }
    fn create_model_version(&self, version: &NewModelVersion) -> StoreResult<ModelVersion> {
        self.create_model_version_impl(version)
    }
    fn get_model_version(&self, name: &str, version: &str) -> StoreResult<ModelVersion> {
        self.get_model_version_impl(name, version)
    }
    fn update_model_version(&self, name: &str, version: &str, description: Option<&str>) -> StoreResult<ModelVersion> {
        self.update_model_version_impl(name, version, description)
    }
    fn delete_model_version(&self, name: &str, version: &str) -> StoreResult<()> {
        self.delete_model_version_impl(name, version)
    }
    fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> StoreResult<ModelVersion> {
        self.transition_stage_impl(name, version, stage, archive_existing)
    }
    fn search_model_versions(&self, query: &RegistryQuery) -> StoreResult<Page<ModelVersion>> {
        self.search_model_versions_impl(query)
    }
    fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> StoreResult<()> {
        self.set_model_version_tag_impl(name, version, tag)
    }
    fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> StoreResult<()> {
        self.delete_model_version_tag_impl(name, version, key)
    }
    fn set_alias(&self, name: &str, alias: &str, version: &str) -> StoreResult<()> {
        self.set_alias_impl(name, alias, version)
    }
    fn delete_alias(&self, name: &str, alias: &str) -> StoreResult<()> {
        self.delete_alias_impl(name, alias)
    }
    fn get_version_by_alias(&self, name: &str, alias: &str) -> StoreResult<ModelVersion> {
        self.get_version_by_alias_impl(name, alias)
    }
    fn registry_generation(&self) -> u64 {
        self.registry_generation_now()
    }
}

impl FleetStore for SqliteStore {
    fn create_family(&self, family: &NewFamily) -> StoreResult<Family> {
        self.create_family_impl(family)
    }
    fn get_family(&self, name: &str) -> StoreResult<Family> {
        self.get_family_impl(name)
    }
    fn list_families(&self, page: &PageRequest) -> StoreResult<Page<Family>> {
        self.list_families_impl(page)
    }
    fn register_versions(&self, versions: &[BulkVersion], ctx: &ChangeContext) -> StoreResult<Vec<RegisteredVersion>> {
        self.register_versions_impl(versions, ctx)
    }
    fn set_aliases(&self, changes: &[AliasChange], ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.set_aliases_impl(changes, ctx)
    }
    fn promote(&self, rule: &PromotionRule, dry_run: bool, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.promote_impl(rule, dry_run, ctx)
    }
    fn rollback(&self, batch_id: i64, ctx: &ChangeContext) -> StoreResult<AliasReport> {
        self.rollback_impl(batch_id, ctx)
    }
    fn audit_log(&self, query: &AuditQuery) -> StoreResult<Page<AliasEvent>> {
        self.audit_log_impl(query)
    }
    fn search_fleet(&self, query: &FleetQuery) -> StoreResult<Page<FleetModel>> {
        self.search_fleet_impl(query)
    }

    fn search_versions(&self, query: &VersionQuery) -> StoreResult<Page<FleetVersion>> {
        self.search_versions_impl(query)
    }
    fn fleet_facets(&self, query: &FleetQuery, tag_keys: &[String]) -> StoreResult<Facets> {
        self.fleet_facets_impl(query, tag_keys)
    }
    fn resolve_partition(
        &self,
        family: &str,
        partition: &[PartitionValue],
        alias: &str,
    ) -> StoreResult<PartitionTarget> {
        self.resolve_partition_impl(family, partition, alias)
    }
}
