-- Version search across the fleet (SQLite's migration 4).
CREATE INDEX model_versions_by_creation ON model_versions (creation_time);
CREATE INDEX model_version_metrics_by_value ON model_version_metrics (key, value);
