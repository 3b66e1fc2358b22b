-- Newest first with ties by name ascending, as MLflow sorts (SQLite's migration 7).
CREATE INDEX registered_models_by_update_desc ON registered_models (last_update_time DESC, name);
CREATE INDEX registered_models_by_creation_desc ON registered_models (creation_time DESC, name);
