-- Version search across the fleet (`/api/fleet/v1/versions`): versions in
-- creation order, and versions by the value of one of their metrics, for
-- sorting and for filters like `val_rmse < 3.2`. Both tables are WITHOUT
-- ROWID, so each index entry carries the version's key (rm_id, version).
CREATE INDEX model_versions_by_creation ON model_versions (creation_time);
CREATE INDEX model_version_metrics_by_value ON model_version_metrics (key, value);
