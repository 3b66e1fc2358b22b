-- MLflow's default order for model-versions/search (SQLite's migration 5).
CREATE INDEX model_versions_by_update ON model_versions (last_update_time);
CREATE INDEX model_versions_by_model_update ON model_versions (rm_id, last_update_time);
