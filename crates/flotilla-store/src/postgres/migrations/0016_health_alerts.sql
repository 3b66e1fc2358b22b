-- Fleet health and alerts (SQLite's migration 16; see its comments).
-- health_counts rolls model_health up per scope, kept by triggers: kind is
-- 'fleet' (scope ''), 'family' (the family's name), 'partition' (family '/'
-- key '=' value, every level but the family's leaf) or 'tag' (key '=' value).

CREATE TABLE model_health (
    rm_id      BIGINT NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    check_name TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,       -- ok, warn, fail, unknown
    value      DOUBLE PRECISION,
    updated    BIGINT NOT NULL,
    PRIMARY KEY (rm_id, check_name)
);

CREATE TABLE model_health_summary (
    rm_id     BIGINT PRIMARY KEY REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    family_id BIGINT,
    score     BIGINT NOT NULL,
    updated   BIGINT NOT NULL
);
CREATE INDEX model_health_worst ON model_health_summary (score DESC, rm_id) WHERE score > 0;
CREATE INDEX model_health_worst_by_family ON model_health_summary (family_id, score DESC, rm_id) WHERE score > 0;

CREATE TABLE health_counts (
    kind       TEXT COLLATE "C" NOT NULL,
    scope      TEXT COLLATE "C" NOT NULL,
    check_name TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (kind, scope, check_name, status)
);

CREATE TABLE health_history (
    kind       TEXT COLLATE "C" NOT NULL,
    scope      TEXT COLLATE "C" NOT NULL,
    hour       BIGINT NOT NULL,    -- ms since the epoch, at the hour
    check_name TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C" NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (kind, scope, hour, check_name, status)
);

-- The scopes one model's health counts in, besides the fleet.
CREATE FUNCTION health_scopes(rm BIGINT) RETURNS TABLE (kind TEXT, scope TEXT) LANGUAGE sql STABLE AS $$
    SELECT 'family', f.name FROM fleet_members m JOIN families f ON f.family_id = m.family_id WHERE m.rm_id = rm
    UNION ALL
    SELECT 'partition', f.name || '/' || p.key || '=' || p.value
    FROM member_partitions p JOIN fleet_members m ON m.rm_id = p.rm_id JOIN families f ON f.family_id = m.family_id
    WHERE p.rm_id = rm AND p.key <> (f.levels::jsonb ->> -1)
    UNION ALL
    SELECT 'tag', t.key || '=' || t.value FROM registered_model_tags t
    WHERE t.rm_id = rm AND t.key NOT LIKE 'flotilla.%'
$$;

CREATE FUNCTION health_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE health_counts SET n = n - 1
        WHERE kind = 'fleet' AND scope = '' AND check_name = OLD.check_name AND status = OLD.status;
        UPDATE health_counts c SET n = c.n - 1 FROM health_scopes(OLD.rm_id) s
        WHERE c.kind = s.kind AND c.scope = s.scope AND c.check_name = OLD.check_name AND c.status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO health_counts VALUES ('fleet', '', NEW.check_name, NEW.status, 1)
            ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = health_counts.n + 1;
        INSERT INTO health_counts SELECT s.kind, s.scope, NEW.check_name, NEW.status, 1 FROM health_scopes(NEW.rm_id) s
            ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = health_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER health_rollup AFTER INSERT OR DELETE ON model_health
    FOR EACH ROW EXECUTE FUNCTION health_rollup();
CREATE TRIGGER health_update AFTER UPDATE OF status ON model_health
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION health_rollup();

-- A member's delete moves its family and partition counts; BEFORE, so the
-- member's partitions (cascaded from it) are still there.
CREATE FUNCTION health_member_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = OLD.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'family' AND scope = (SELECT name FROM families WHERE family_id = OLD.family_id);
    UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                      WHERE h.rm_id = OLD.rm_id AND h.check_name = health_counts.check_name
                                        AND h.status = health_counts.status)
    WHERE kind = 'partition' AND scope IN (SELECT f.name || '/' || p.key || '=' || p.value
                                           FROM member_partitions p JOIN families f ON f.family_id = OLD.family_id
                                           WHERE p.rm_id = OLD.rm_id AND p.key <> (f.levels::jsonb ->> -1));
    RETURN OLD;
END $$;
CREATE TRIGGER health_member_delete BEFORE DELETE ON fleet_members
    FOR EACH ROW EXECUTE FUNCTION health_member_delete();

CREATE FUNCTION health_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.key NOT LIKE 'flotilla.%' THEN
        UPDATE health_counts SET n = n - (SELECT count(*) FROM model_health h
                                          WHERE h.rm_id = OLD.rm_id AND h.check_name = health_counts.check_name
                                            AND h.status = health_counts.status)
        WHERE kind = 'tag' AND scope = OLD.key || '=' || OLD.value;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.key NOT LIKE 'flotilla.%' THEN
        INSERT INTO health_counts
            SELECT 'tag', NEW.key || '=' || NEW.value, h.check_name, h.status, 1 FROM model_health h WHERE h.rm_id = NEW.rm_id
            ON CONFLICT (kind, scope, check_name, status) DO UPDATE SET n = health_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER health_tags AFTER INSERT OR DELETE ON registered_model_tags
    FOR EACH ROW EXECUTE FUNCTION health_tags();
CREATE TRIGGER health_tag_update AFTER UPDATE OF value ON registered_model_tags
    FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value) EXECUTE FUNCTION health_tags();

-- Drift settings per family and the explicit baseline of a model.
CREATE TABLE family_drift_config (
    family_id BIGINT PRIMARY KEY REFERENCES families (family_id) ON DELETE CASCADE,
    config    TEXT COLLATE "C" NOT NULL,
    updated   BIGINT NOT NULL
);
CREATE TABLE model_baselines (
    rm_id        BIGINT PRIMARY KEY REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    kind         TEXT COLLATE "C" NOT NULL,     -- dataset, traffic
    dataset_name TEXT COLLATE "C",
    digest       TEXT COLLATE "C",
    version      BIGINT,
    from_ms      BIGINT,
    to_ms        BIGINT,
    updated      BIGINT NOT NULL
);

-- Alert rules, their per-model state, events (deduplicated) and deliveries.
CREATE TABLE alert_rules (
    rule_id     BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    scope_kind  TEXT COLLATE "C" NOT NULL,      -- fleet, family, partition, model
    scope       TEXT COLLATE "C" NOT NULL,
    check_name  TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,      -- warn, fail
    windows     BIGINT NOT NULL,
    webhook_url TEXT COLLATE "C" NOT NULL,
    secret      TEXT COLLATE "C" NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created     BIGINT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE alert_state (
    rule_id BIGINT NOT NULL REFERENCES alert_rules (rule_id) ON DELETE CASCADE,
    rm_id   BIGINT NOT NULL REFERENCES registered_models (rm_id) ON DELETE CASCADE,
    streak  BIGINT NOT NULL,
    firing  BOOLEAN NOT NULL,
    PRIMARY KEY (rule_id, rm_id)
);

CREATE TABLE alert_events (
    event_id   BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    rule_id    BIGINT NOT NULL REFERENCES alert_rules (rule_id) ON DELETE CASCADE,
    model_name TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,       -- firing, resolved
    status     TEXT COLLATE "C" NOT NULL,
    value      DOUBLE PRECISION,
    window_end BIGINT NOT NULL,
    dedup_key  TEXT COLLATE "C" NOT NULL UNIQUE,
    created    BIGINT NOT NULL,
    -- pending, delivered, failed (gave up)
    state      TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL
);
CREATE INDEX alert_events_pending ON alert_events (next_at) WHERE state = 'pending';

CREATE TABLE alert_deliveries (
    delivery_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES alert_events (event_id) ON DELETE CASCADE,
    rule_id     BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    time        BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT COLLATE "C",
    outcome     TEXT COLLATE "C" NOT NULL,      -- delivered, retrying, failed
    duration_ms BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_by_rule ON alert_deliveries (rule_id, delivery_id);

-- Deleting a registered model deletes its counted children first, in an
-- order where every roll-up trigger still sees the links it needs (health
-- while tags and membership exist; versions, aliases and tags while the
-- membership exists; the membership last). PostgreSQL runs the AFTER
-- triggers of foreign-key cascades only once every cascade is done, when
-- those links are gone, so the cascades must find nothing left to count.
CREATE FUNCTION registered_model_delete_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM model_health WHERE rm_id = OLD.rm_id;
    DELETE FROM registered_model_aliases WHERE rm_id = OLD.rm_id;
    DELETE FROM model_versions WHERE rm_id = OLD.rm_id;
    DELETE FROM registered_model_tags WHERE rm_id = OLD.rm_id;
    DELETE FROM fleet_members WHERE rm_id = OLD.rm_id;
    RETURN OLD;
END $$;
CREATE TRIGGER registered_model_delete_children BEFORE DELETE ON registered_models
    FOR EACH ROW EXECUTE FUNCTION registered_model_delete_children();
