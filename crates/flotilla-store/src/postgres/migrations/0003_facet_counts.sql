-- Facet counts kept by triggers (SQLite's migration 3; see its comments).
-- scope 0 is the whole registry, else a family_id. dim is 'models',
-- 'family', 'alias', 'stage' or 'tag:<key>'. Rows may reach n = 0 and stay.
-- A child row counts in its family's scope while its model is a member; the
-- member's delete subtracts whatever children remain, so either cascade
-- order ends with the same counts.

CREATE TABLE facet_counts (
    scope BIGINT NOT NULL,
    dim   TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (scope, dim, value)
);

-- Adds `delta` to (0, dim, value) and, when `rm` is a member, to its family's scope.
CREATE FUNCTION facet_add(rm BIGINT, d TEXT, v TEXT, delta BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO facet_counts VALUES (0, d, v, delta)
        ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + delta;
    INSERT INTO facet_counts SELECT family_id, d, v, delta FROM fleet_members WHERE rm_id = rm
        ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + delta;
END $$;
-- Subtracts one from (0, dim, value) and from the family scope of `rm` if still a member.
CREATE FUNCTION facet_sub(rm BIGINT, d TEXT, v TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = d AND value = v;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = rm) AND dim = d AND value = v;
END $$;

CREATE FUNCTION facet_models() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO facet_counts VALUES (0, 'models', '', 1)
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + 1;
    ELSE
        UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'models' AND value = '';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER facet_models AFTER INSERT OR DELETE ON registered_models
    FOR EACH ROW EXECUTE FUNCTION facet_models();

CREATE FUNCTION facet_aliases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM facet_add(NEW.rm_id, 'alias', NEW.alias, 1);
    ELSE
        PERFORM facet_sub(OLD.rm_id, 'alias', OLD.alias);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER facet_aliases AFTER INSERT OR DELETE ON registered_model_aliases
    FOR EACH ROW EXECUTE FUNCTION facet_aliases();

CREATE FUNCTION facet_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM facet_sub(OLD.rm_id, 'stage', OLD.current_stage);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM facet_add(NEW.rm_id, 'stage', NEW.current_stage, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER facet_versions AFTER INSERT OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION facet_versions();
CREATE TRIGGER facet_versions_stage AFTER UPDATE OF current_stage ON model_versions
    FOR EACH ROW WHEN (OLD.current_stage IS DISTINCT FROM NEW.current_stage) EXECUTE FUNCTION facet_versions();

-- The partition tag is unique per member: counting its values would copy it.
CREATE FUNCTION facet_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.key <> 'flotilla.partition' THEN
        PERFORM facet_sub(OLD.rm_id, 'tag:' || OLD.key, OLD.value);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.key <> 'flotilla.partition' THEN
        PERFORM facet_add(NEW.rm_id, 'tag:' || NEW.key, NEW.value, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER facet_tags AFTER INSERT OR DELETE ON registered_model_tags
    FOR EACH ROW EXECUTE FUNCTION facet_tags();
CREATE TRIGGER facet_tags_update AFTER UPDATE OF value ON registered_model_tags
    FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value) EXECUTE FUNCTION facet_tags();

-- Membership moves a model's children into or out of its family's scope.
CREATE FUNCTION facet_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO facet_counts VALUES (0, 'family', NEW.family_id::TEXT, 1)
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + 1;
        INSERT INTO facet_counts VALUES (NEW.family_id, 'family', NEW.family_id::TEXT, 1)
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + 1;
        INSERT INTO facet_counts SELECT NEW.family_id, 'alias', alias, count(*) FROM registered_model_aliases
            WHERE rm_id = NEW.rm_id GROUP BY alias
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + excluded.n;
        INSERT INTO facet_counts SELECT NEW.family_id, 'stage', current_stage, count(*) FROM model_versions
            WHERE rm_id = NEW.rm_id GROUP BY current_stage
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + excluded.n;
        INSERT INTO facet_counts SELECT NEW.family_id, 'tag:' || key, value, 1 FROM registered_model_tags
            WHERE rm_id = NEW.rm_id AND key <> 'flotilla.partition'
            ON CONFLICT (scope, dim, value) DO UPDATE SET n = facet_counts.n + 1;
    ELSE
        UPDATE facet_counts SET n = n - 1
        WHERE scope IN (0, OLD.family_id) AND dim = 'family' AND value = OLD.family_id::TEXT;
        UPDATE facet_counts SET n = n - (SELECT count(*) FROM registered_model_aliases a
                                         WHERE a.rm_id = OLD.rm_id AND a.alias = facet_counts.value)
        WHERE scope = OLD.family_id AND dim = 'alias';
        UPDATE facet_counts SET n = n - (SELECT count(*) FROM model_versions v
                                         WHERE v.rm_id = OLD.rm_id AND v.current_stage = facet_counts.value)
        WHERE scope = OLD.family_id AND dim = 'stage';
        UPDATE facet_counts SET n = n - (SELECT count(*) FROM registered_model_tags t
                                         WHERE t.rm_id = OLD.rm_id AND 'tag:' || t.key = facet_counts.dim
                                           AND t.value = facet_counts.value)
        WHERE scope = OLD.family_id AND dim LIKE 'tag:%' AND dim <> 'tag:flotilla.partition';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER facet_members AFTER INSERT OR DELETE ON fleet_members
    FOR EACH ROW EXECUTE FUNCTION facet_members();
