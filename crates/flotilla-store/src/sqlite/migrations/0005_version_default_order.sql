-- MLflow's default order for model-versions/search is
-- `last_updated_timestamp DESC, name ASC, version_number DESC`. The first index
-- lets a search over the registry walk versions most recently updated first
-- (ties sorted on the fly); the second does the same within one model, the
-- search the mlflow client sends most (`name = 'x'`), without sorting every
-- version of a model that has 200,000 of them.
CREATE INDEX model_versions_by_update ON model_versions (last_update_time);
CREATE INDEX model_versions_by_model_update ON model_versions (rm_id, last_update_time);
