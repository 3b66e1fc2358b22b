-- Fleets: families of registered models keyed by partitions, version metrics
-- for metric filters and promotion rules, a substring index over model names,
-- and the audit log of alias changes.

CREATE TABLE families (
    family_id     INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    levels        TEXT NOT NULL,            -- JSON array of level keys, top first
    description   TEXT NOT NULL DEFAULT '',
    creation_time INTEGER NOT NULL,
    -- The registered model named like the family: the last fallback.
    default_rm_id INTEGER NOT NULL REFERENCES registered_models (rm_id)
);

-- A registered model that belongs to a family. Depth 0 is the family default;
-- depth d holds a partition of level d, whose parent is at depth d - 1.
CREATE TABLE fleet_members (
    rm_id      INTEGER PRIMARY KEY REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    family_id  INTEGER NOT NULL REFERENCES families (family_id) ON DELETE CASCADE,
    depth      INTEGER NOT NULL,
    part_value TEXT NOT NULL DEFAULT '',
    parent     INTEGER REFERENCES fleet_members (rm_id),
    UNIQUE (family_id, depth, part_value)
);
CREATE INDEX fleet_members_by_parent ON fleet_members (parent) WHERE parent IS NOT NULL;

-- Every level of each member's path (a store carries its region too), for
-- partition filters: "every model under region=west".
CREATE TABLE member_partitions (
    rm_id INTEGER NOT NULL REFERENCES fleet_members (rm_id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (rm_id, key)
) WITHOUT ROWID;
CREATE INDEX member_partitions_by_value ON member_partitions (key, value, rm_id);

-- A version's metrics: given when it is registered in bulk, else copied from
-- its run's latest metrics and kept current as the run logs more.
CREATE TABLE model_version_metrics (
    rm_id   INTEGER NOT NULL,
    key     TEXT NOT NULL,
    version INTEGER NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (rm_id, key, version),
    FOREIGN KEY (rm_id, version) REFERENCES model_versions (rm_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- Aliases by name, for "which models have a champion" and alias facets.
CREATE INDEX registered_model_aliases_by_alias ON registered_model_aliases (alias, rm_id);

-- The metrics of each aliased version, kept in step with aliases and version
-- metrics, so that "champion:val_rmse < 3.2" and sorting by it walk an index.
CREATE TABLE alias_metrics (
    rm_id INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    key   TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (rm_id, alias, key)
) WITHOUT ROWID;
CREATE INDEX alias_metrics_by_value ON alias_metrics (alias, key, value, rm_id);

-- Substring search over model names (trigrams), kept in step by triggers.
CREATE VIRTUAL TABLE registered_model_names USING fts5 (
    name, content = 'registered_models', content_rowid = 'rm_id', tokenize = 'trigram'
);
INSERT INTO registered_model_names (rowid, name) SELECT rm_id, name FROM registered_models;
CREATE TRIGGER registered_model_names_insert AFTER INSERT ON registered_models BEGIN
    INSERT INTO registered_model_names (rowid, name) VALUES (new.rm_id, new.name);
END;
CREATE TRIGGER registered_model_names_delete AFTER DELETE ON registered_models BEGIN
    INSERT INTO registered_model_names (registered_model_names, rowid, name) VALUES ('delete', old.rm_id, old.name);
END;
CREATE TRIGGER registered_model_names_rename AFTER UPDATE OF name ON registered_models BEGIN
    INSERT INTO registered_model_names (registered_model_names, rowid, name) VALUES ('delete', old.rm_id, old.name);
    INSERT INTO registered_model_names (rowid, name) VALUES (new.rm_id, new.name);
END;

-- One row per batch of alias changes: a bulk request, a promotion, a
-- rollback, or a single change made through the MLflow API.
CREATE TABLE alias_batches (
    batch_id    INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,              -- 'api', 'bulk', 'promotion', 'rollback'
    reason      TEXT NOT NULL DEFAULT '',
    rule        TEXT,                       -- the promotion rule, as JSON
    reverts     INTEGER REFERENCES alias_batches (batch_id),
    reverted_by INTEGER REFERENCES alias_batches (batch_id)
);

-- The audit log: who moved which alias of which model from where to where.
-- Model names are copied so the log survives a model's deletion.
CREATE TABLE alias_events (
    event_id     INTEGER PRIMARY KEY,
    batch_id     INTEGER NOT NULL REFERENCES alias_batches (batch_id),
    rm_id        INTEGER NOT NULL,
    model_name   TEXT NOT NULL,
    alias        TEXT NOT NULL,
    from_version INTEGER,
    to_version   INTEGER
);
CREATE INDEX alias_events_by_batch ON alias_events (batch_id, event_id);
CREATE INDEX alias_events_by_model ON alias_events (model_name, event_id);
