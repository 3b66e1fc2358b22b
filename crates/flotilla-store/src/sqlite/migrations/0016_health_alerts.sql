-- Fleet health (issue 15, point 4) and alerts (point 5).
--
-- model_health holds each model's current status per check; health_counts
-- rolls them up per scope, kept by triggers like facet_counts (migration 3),
-- so a family's or the fleet's counts are read, never counted per request.
-- kind is 'fleet' (scope ''), 'family' (scope: the family's name),
-- 'partition' (scope: family '/' key '=' value; every level of a member's
-- path but the family's leaf level, where a partition is one model) or
-- 'tag' (key '=' value).
-- Rows may reach n = 0 and stay; readers skip them. A member's, a
-- partition's or a tag's delete subtracts what health its model still has,
-- and a health row's delete finds only the links that remain, so cascades
-- in either order end with the same counts.

CREATE TABLE model_health (
    rm_id      INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    check_name TEXT NOT NULL,
    status     TEXT NOT NULL,       -- ok, warn, fail, unknown
    value      REAL,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (rm_id, check_name)
) WITHOUT ROWID;

-- Per model: a severity score (fails * 1024 + warns) for the worst-models
-- lists, with its family so a family's worst models are one index range.
CREATE TABLE model_health_summary (
    rm_id     INTEGER PRIMARY KEY REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    family_id INTEGER,
    score     INTEGER NOT NULL,
    updated   INTEGER NOT NULL
);
CREATE INDEX model_health_worst ON model_health_summary (score DESC, rm_id) WHERE score > 0;
CREATE INDEX model_health_worst_by_family ON model_health_summary (family_id, score DESC, rm_id) WHERE score > 0;

CREATE TABLE health_counts (
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    check_name TEXT NOT NULL,
    status     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (kind, scope, check_name, status)
) WITHOUT ROWID;

-- One row per hour, fleet and family scopes, for trend plots.
CREATE TABLE health_history (
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    hour       INTEGER NOT NULL,    -- ms since the epoch, at the hour
    check_name TEXT NOT NULL,
    status     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (kind, scope, hour, check_name, status)
) WITHOUT ROWID;

CREATE TRIGGER health_insert AFTER INSERT ON model_health BEGIN
    INSERT INTO health_counts VALUES ('fleet', '', new.check_name, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'family', f.name, new.check_name, new.status, 1
        FROM fleet_members m JOIN families f ON f.family_id = m.family_id WHERE m.rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'partition', f.name || '/' || p.key || '=' || p.value, new.check_name, new.status, 1
        FROM member_partitions p JOIN fleet_members m ON m.rm_id = p.rm_id JOIN families f ON f.family_id = m.family_id
        WHERE p.rm_id = new.rm_id AND p.key != json_extract(f.levels, '$[#-1]')
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'tag', t.key || '=' || t.value, new.check_name, new.status, 1
        FROM registered_model_tags t WHERE t.rm_id = new.rm_id AND t.key NOT LIKE 'flotilla.%'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER health_delete AFTER DELETE ON model_health BEGIN
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'fleet' AND scope = '' AND check_name = old.check_name AND status = old.status;
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'family' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT f.name FROM fleet_members m JOIN families f ON f.family_id = m.family_id
                    WHERE m.rm_id = old.rm_id);
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'partition' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT f.name || '/' || p.key || '=' || p.value FROM member_partitions p
                    JOIN fleet_members m ON m.rm_id = p.rm_id JOIN families f ON f.family_id = m.family_id
                    WHERE p.rm_id = old.rm_id AND p.key != json_extract(f.levels, '$[#-1]'));
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'tag' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT t.key || '=' || t.value FROM registered_model_tags t
                    WHERE t.rm_id = old.rm_id AND t.key NOT LIKE 'flotilla.%');
END;

-- A status change is a delete and an insert of the roll-ups.
CREATE TRIGGER health_update AFTER UPDATE OF status ON model_health WHEN old.status IS NOT new.status BEGIN
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'fleet' AND scope = '' AND check_name = old.check_name AND status = old.status;
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'family' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT f.name FROM fleet_members m JOIN families f ON f.family_id = m.family_id
                    WHERE m.rm_id = old.rm_id);
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'partition' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT f.name || '/' || p.key || '=' || p.value FROM member_partitions p
                    JOIN fleet_members m ON m.rm_id = p.rm_id JOIN families f ON f.family_id = m.family_id
                    WHERE p.rm_id = old.rm_id AND p.key != json_extract(f.levels, '$[#-1]'));
    UPDATE health_counts SET n = n - 1
    WHERE kind = 'tag' AND check_name = old.check_name AND status = old.status
      AND scope IN (SELECT t.key || '=' || t.value FROM registered_model_tags t
                    WHERE t.rm_id = old.rm_id AND t.key NOT LIKE 'flotilla.%');
    INSERT INTO health_counts VALUES ('fleet', '', new.check_name, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'family', f.name, new.check_name, new.status, 1
        FROM fleet_members m JOIN families f ON f.family_id = m.family_id WHERE m.rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'partition', f.name || '/' || p.key || '=' || p.value, new.check_name, new.status, 1
        FROM member_partitions p JOIN fleet_members m ON m.rm_id = p.rm_id JOIN families f ON f.family_id = m.family_id
        WHERE p.rm_id = new.rm_id AND p.key != json_extract(f.levels, '$[#-1]')
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO health_counts
        SELECT 'tag', t.key || '=' || t.value, new.check_name, new.status, 1
        FROM registered_model_tags t WHERE t.rm_id = new.rm_id AND t.key NOT LIKE 'flotilla.%'
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Links broken after health exists move its counts (a member's family and
-- partitions are made with the model, before it has any health).
-- BEFORE, so the member's partitions (cascaded from it) are still there.
CREATE TRIGGER health_member_delete BEFORE DELETE ON fleet_members BEGIN
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = old.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'family' AND scope = (SELECT name FROM families WHERE family_id = old.family_id);
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = old.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'partition' AND scope IN (SELECT f.name || '/' || p.key || '=' || p.value
                                           FROM member_partitions p JOIN families f ON f.family_id = old.family_id
                                           WHERE p.rm_id = old.rm_id AND p.key != json_extract(f.levels, '$[#-1]'));
END;
CREATE TRIGGER health_tag_insert AFTER INSERT ON registered_model_tags WHEN new.key NOT LIKE 'flotilla.%' BEGIN
    INSERT INTO health_counts
        SELECT 'tag', new.key || '=' || new.value, h.check_name, h.status, 1 FROM model_health h WHERE h.rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER health_tag_delete AFTER DELETE ON registered_model_tags WHEN old.key NOT LIKE 'flotilla.%' BEGIN
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = old.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'tag' AND scope = old.key || '=' || old.value;
END;
CREATE TRIGGER health_tag_update AFTER UPDATE OF value ON registered_model_tags
WHEN old.key NOT LIKE 'flotilla.%' AND old.value IS NOT new.value BEGIN
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = old.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'tag' AND scope = old.key || '=' || old.value;
    INSERT INTO health_counts
        SELECT 'tag', new.key || '=' || new.value, h.check_name, h.status, 1 FROM model_health h WHERE h.rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Drift settings per family (flotilla_drift::DriftConfig as JSON) and the
-- explicit baseline of a model: a dataset with a profile, or a past range of
-- one version's own traffic.
CREATE TABLE family_drift_config (
    family_id INTEGER PRIMARY KEY REFERENCES families (family_id) ON DELETE CASCADE,
    config    TEXT NOT NULL,
    updated   INTEGER NOT NULL
);
CREATE TABLE model_baselines (
    rm_id        INTEGER PRIMARY KEY REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,     -- dataset, traffic
    dataset_name TEXT,
    digest       TEXT,
    version      INTEGER,
    from_ms      INTEGER,
    to_ms        INTEGER,
    updated      INTEGER NOT NULL
);

-- Alert rules: a scope, a check, the status at or above which a window
-- counts, and how many consecutive windows fire it; delivered to a webhook
-- signed with the rule's secret.
CREATE TABLE alert_rules (
    rule_id     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    scope_kind  TEXT NOT NULL,      -- fleet, family, partition, model
    scope       TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    status      TEXT NOT NULL,      -- warn, fail
    windows     INTEGER NOT NULL,
    webhook_url TEXT NOT NULL,
    secret      TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created     INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT ''
);

-- Per rule and model: consecutive matching windows, and whether it fires.
CREATE TABLE alert_state (
    rule_id INTEGER NOT NULL REFERENCES alert_rules (rule_id) ON DELETE CASCADE,
    rm_id   INTEGER NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    streak  INTEGER NOT NULL,
    firing  INTEGER NOT NULL,
    PRIMARY KEY (rule_id, rm_id)
) WITHOUT ROWID;

-- Firing and resolving events, one per (rule, model, window, kind): the
-- dedup key. Each is delivered once to its rule's webhook, with retries.
CREATE TABLE alert_events (
    event_id   INTEGER PRIMARY KEY,
    rule_id    INTEGER NOT NULL REFERENCES alert_rules (rule_id) ON DELETE CASCADE,
    model_name TEXT NOT NULL,
    kind       TEXT NOT NULL,       -- firing, resolved
    status     TEXT NOT NULL,
    value      REAL,
    window_end INTEGER NOT NULL,
    dedup_key  TEXT NOT NULL UNIQUE,
    created    INTEGER NOT NULL,
    -- pending, delivered, failed (gave up)
    state      TEXT NOT NULL DEFAULT 'pending',
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL
);
CREATE INDEX alert_events_pending ON alert_events (next_at) WHERE state = 'pending';

-- Every delivery attempt.
CREATE TABLE alert_deliveries (
    delivery_id INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES alert_events (event_id) ON DELETE CASCADE,
    rule_id     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    outcome     TEXT NOT NULL,      -- delivered, retrying, failed
    duration_ms INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_by_rule ON alert_deliveries (rule_id, delivery_id);
