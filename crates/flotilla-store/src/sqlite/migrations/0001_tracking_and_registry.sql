-- flotilla SQLite schema, version 1. Never edit a shipped migration: add a new file.
--
-- Fleet-scale choices: runs and registered models get an integer surrogate key so
-- the big child tables (metrics, tags, versions) store 8-byte keys, not 32-char
-- ids; the latest value of each metric lives apart from its history; every
-- search the API offers has an index behind it.

CREATE TABLE experiments (
    experiment_id     INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL DEFAULT 'active',
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL
);
CREATE INDEX experiments_by_creation ON experiments (creation_time DESC, experiment_id);

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

CREATE TABLE runs (
    run_key         INTEGER PRIMARY KEY,
    run_uuid        TEXT NOT NULL UNIQUE,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    artifact_uri    TEXT NOT NULL,
    deleted_time    INTEGER
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);

CREATE TABLE run_params (
    run_key INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX run_params_by_key ON run_params (key, value);

CREATE TABLE run_tags (
    run_key INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX run_tags_by_key ON run_tags (key, value);

-- Full history, append-only; read by (run, key) in (step, timestamp) order.
CREATE TABLE metrics (
    id             INTEGER PRIMARY KEY,
    run_key        INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          REAL NOT NULL,
    is_nan         INTEGER NOT NULL DEFAULT 0,
    timestamp      INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    model_id       TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT
);
CREATE INDEX metrics_history ON metrics (run_key, key, step, timestamp);

-- The latest value per (run, key): what run pages and searches read.
CREATE TABLE latest_metrics (
    run_key        INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          REAL NOT NULL,
    is_nan         INTEGER NOT NULL DEFAULT 0,
    timestamp      INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    model_id       TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT,
    PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value);

CREATE TABLE datasets (
    dataset_id    INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    source_type   TEXT NOT NULL,
    source        TEXT NOT NULL,
    schema        TEXT,
    profile       TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_inputs (
    run_key    INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets (dataset_id),
    tags_json  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_key, dataset_id)
) WITHOUT ROWID;
CREATE INDEX run_inputs_by_dataset ON run_inputs (dataset_id);

CREATE TABLE run_model_inputs (
    run_key  INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    PRIMARY KEY (run_key, model_id)
) WITHOUT ROWID;

CREATE TABLE run_model_outputs (
    run_key  INTEGER NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    step     INTEGER NOT NULL,
    PRIMARY KEY (run_key, model_id)
) WITHOUT ROWID;

CREATE TABLE logged_models (
    model_id          TEXT PRIMARY KEY,
    experiment_id     INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name              TEXT NOT NULL,
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL,
    status            TEXT NOT NULL,
    status_message    TEXT,
    model_type        TEXT,
    source_run_id     TEXT,
    artifact_uri      TEXT NOT NULL,
    lifecycle_stage   TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_time DESC, model_id);
CREATE INDEX logged_models_by_run ON logged_models (source_run_id);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_metrics (
    model_id       TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          REAL NOT NULL,
    is_nan         INTEGER NOT NULL DEFAULT 0,
    timestamp      INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    run_uuid       TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE registered_models (
    rm_id            INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    creation_time    INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    user_id          TEXT,
    -- Version numbers are never reused, even after a delete: a cache or a
    -- client holding "v3" must never see a different model under that name.
    next_version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX registered_models_by_creation ON registered_models (creation_time, name);
CREATE INDEX registered_models_by_update ON registered_models (last_update_time, name);

CREATE TABLE registered_model_tags (
    rm_id INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (rm_id, key)
) WITHOUT ROWID;
CREATE INDEX registered_model_tags_by_key ON registered_model_tags (key, value);

CREATE TABLE model_versions (
    rm_id            INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    creation_time    INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    user_id          TEXT,
    current_stage    TEXT NOT NULL DEFAULT 'None',
    source           TEXT NOT NULL,
    run_id           TEXT,
    run_link         TEXT NOT NULL DEFAULT '',
    model_id         TEXT,
    status           TEXT NOT NULL DEFAULT 'READY',
    status_message   TEXT,
    PRIMARY KEY (rm_id, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_stage ON model_versions (rm_id, current_stage, version);
CREATE INDEX model_versions_by_run ON model_versions (run_id) WHERE run_id IS NOT NULL;

CREATE TABLE model_version_tags (
    rm_id   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (rm_id, version, key),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX model_version_tags_by_key ON model_version_tags (key, value);

CREATE TABLE registered_model_aliases (
    rm_id   INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    alias   TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (rm_id, alias)
) WITHOUT ROWID;

INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
