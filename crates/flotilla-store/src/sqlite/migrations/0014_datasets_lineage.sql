-- Datasets as entities and the lineage from data to model versions.
--
-- `datasets` (migration 1) stays MLflow's per-experiment record of what
-- `log-inputs` sent. A dataset entity is one `(name, digest)` across the
-- whole store, however many experiments logged it; `dataset_runs` is which
-- runs used it and in what context (the `mlflow.data.context` input tag,
-- '' when none); `dataset_versions` is the lineage edge a downstream or
-- upstream query walks, from a dataset to each model version trained on it,
-- kept by triggers for versions made from a run (its `run_id`, else its
-- logged model's source run) and written directly for versions registered
-- with their inputs through the fleet bulk API. The counts a dataset page
-- shows are maintained here, never counted per request.

CREATE TABLE dataset_entities (
    ds_id           INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    digest          TEXT NOT NULL,
    source_type     TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL DEFAULT '',
    schema          TEXT,
    profile         TEXT,
    -- The hook for mergeable profiles (`flotilla-profile`): its bytes, opaque
    -- to the store, and a JSON summary of them.
    profile_bytes   BLOB,
    profile_summary TEXT,
    creation_time   INTEGER NOT NULL,
    run_count       INTEGER NOT NULL DEFAULT 0,
    version_count   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, digest)
);
-- "Is there a newer digest of this name": a seek past this row's time.
CREATE INDEX dataset_entities_by_name_time ON dataset_entities (name, creation_time);

CREATE TABLE dataset_runs (
    ds_id   INTEGER NOT NULL REFERENCES dataset_entities (ds_id),
    run_key INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    context TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ds_id, run_key)
) WITHOUT ROWID;
CREATE INDEX dataset_runs_by_run ON dataset_runs (run_key);

CREATE TABLE dataset_versions (
    ds_id   INTEGER NOT NULL REFERENCES dataset_entities (ds_id),
    rm_id   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    -- The run the edge came through; NULL for inputs given with the version.
    run_key INTEGER,
    PRIMARY KEY (ds_id, rm_id, version),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX dataset_versions_by_version ON dataset_versions (rm_id, version);

-- Versions per family for each dataset, so a dataset shared by 100,000
-- models reads its family counts in a few rows.
CREATE TABLE dataset_family_counts (
    ds_id     INTEGER NOT NULL,
    family_id INTEGER NOT NULL,
    versions  INTEGER NOT NULL,
    PRIMARY KEY (ds_id, family_id)
) WITHOUT ROWID;

CREATE TRIGGER dataset_runs_count_insert AFTER INSERT ON dataset_runs BEGIN
    UPDATE dataset_entities SET run_count = run_count + 1 WHERE ds_id = NEW.ds_id;
    INSERT OR IGNORE INTO dataset_versions (ds_id, rm_id, version, context, run_key)
    SELECT NEW.ds_id, mv.rm_id, mv.version, NEW.context, NEW.run_key
    FROM runs r JOIN model_versions mv ON mv.run_id = r.run_uuid
    WHERE r.run_key = NEW.run_key;
END;
CREATE TRIGGER dataset_runs_count_delete AFTER DELETE ON dataset_runs BEGIN
    UPDATE dataset_entities SET run_count = run_count - 1 WHERE ds_id = OLD.ds_id;
END;
CREATE TRIGGER dataset_runs_context AFTER UPDATE OF context ON dataset_runs BEGIN
    UPDATE dataset_versions SET context = NEW.context WHERE ds_id = NEW.ds_id AND run_key = NEW.run_key
      AND rm_id IN (SELECT mv.rm_id FROM runs r JOIN model_versions mv ON mv.run_id = r.run_uuid WHERE r.run_key = NEW.run_key);
END;

CREATE TRIGGER dataset_versions_count_insert AFTER INSERT ON dataset_versions BEGIN
    UPDATE dataset_entities SET version_count = version_count + 1 WHERE ds_id = NEW.ds_id;
    INSERT INTO dataset_family_counts (ds_id, family_id, versions)
    SELECT NEW.ds_id, m.family_id, 1 FROM fleet_members m WHERE m.rm_id = NEW.rm_id
    ON CONFLICT (ds_id, family_id) DO UPDATE SET versions = versions + 1;
END;
CREATE TRIGGER dataset_versions_count_delete AFTER DELETE ON dataset_versions BEGIN
    UPDATE dataset_entities SET version_count = version_count - 1 WHERE ds_id = OLD.ds_id;
    UPDATE dataset_family_counts SET versions = versions - 1
    WHERE ds_id = OLD.ds_id AND family_id = (SELECT family_id FROM fleet_members WHERE rm_id = OLD.rm_id);
END;

-- A version made from a run (or from a logged model with a source run)
-- carries the run's datasets.
CREATE TRIGGER dataset_versions_from_run AFTER INSERT ON model_versions
WHEN NEW.run_id IS NOT NULL OR NEW.model_id IS NOT NULL BEGIN
    INSERT OR IGNORE INTO dataset_versions (ds_id, rm_id, version, context, run_key)
    SELECT du.ds_id, NEW.rm_id, NEW.version, du.context, du.run_key
    FROM runs r JOIN dataset_runs du ON du.run_key = r.run_key
    WHERE r.run_uuid = COALESCE(NEW.run_id, (SELECT source_run_id FROM logged_models WHERE model_id = NEW.model_id));
END;

-- Backfill from what `log-inputs` stored before: a dataset's time is the
-- first start of a run that used it.
INSERT OR IGNORE INTO dataset_entities (name, digest, source_type, source, schema, profile, creation_time)
SELECT d.name, d.digest, d.source_type, d.source, d.schema, d.profile,
       COALESCE((SELECT min(r.start_time) FROM run_inputs ri JOIN runs r ON r.run_key = ri.run_key
                 WHERE ri.dataset_id = d.dataset_id),
                CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
FROM datasets d ORDER BY d.dataset_id;

INSERT OR IGNORE INTO dataset_runs (ds_id, run_key, context)
SELECT de.ds_id, ri.run_key,
       COALESCE((SELECT json_extract(t.value, '$[1]') FROM json_each(ri.tags_json) t
                 WHERE json_extract(t.value, '$[0]') = 'mlflow.data.context'), '')
FROM run_inputs ri
JOIN datasets d ON d.dataset_id = ri.dataset_id
JOIN dataset_entities de ON de.name = d.name AND de.digest = d.digest;
