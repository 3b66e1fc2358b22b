-- Facet counts kept by triggers, so that the counts for the whole registry
-- and for one family are read, not computed, at a million models.
--
-- scope 0 is the whole registry, else a family_id. dim is 'models',
-- 'family' (value: the family_id), 'alias', 'stage' (versions per stage) or
-- 'tag:<key>'. Rows may reach n = 0 and stay; readers skip them.
--
-- Consistency under cascades: a child row (alias, version, tag) counts in its
-- family's scope while its model is a member. The member's delete trigger
-- subtracts whatever children remain, and a child's delete trigger finds the
-- family only while the membership exists, so either cascade order ends with
-- the same counts. The connection runs with recursive_triggers on, so the
-- implicit delete of INSERT OR REPLACE is counted too.

CREATE TABLE facet_counts (
    scope INTEGER NOT NULL,
    dim   TEXT NOT NULL,
    value TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (scope, dim, value)
) WITHOUT ROWID;

CREATE TRIGGER facet_models_insert AFTER INSERT ON registered_models BEGIN
    INSERT INTO facet_counts VALUES (0, 'models', '', 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER facet_models_delete AFTER DELETE ON registered_models BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'models' AND value = '';
END;

CREATE TRIGGER facet_aliases_insert AFTER INSERT ON registered_model_aliases BEGIN
    INSERT INTO facet_counts VALUES (0, 'alias', new.alias, 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT family_id, 'alias', new.alias, 1 FROM fleet_members WHERE rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER facet_aliases_delete AFTER DELETE ON registered_model_aliases BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'alias' AND value = old.alias;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id) AND dim = 'alias' AND value = old.alias;
END;

CREATE TRIGGER facet_versions_insert AFTER INSERT ON model_versions BEGIN
    INSERT INTO facet_counts VALUES (0, 'stage', new.current_stage, 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT family_id, 'stage', new.current_stage, 1 FROM fleet_members WHERE rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER facet_versions_delete AFTER DELETE ON model_versions BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'stage' AND value = old.current_stage;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id) AND dim = 'stage' AND value = old.current_stage;
END;
CREATE TRIGGER facet_versions_stage AFTER UPDATE OF current_stage ON model_versions
WHEN old.current_stage IS NOT new.current_stage BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'stage' AND value = old.current_stage;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id) AND dim = 'stage' AND value = old.current_stage;
    INSERT INTO facet_counts VALUES (0, 'stage', new.current_stage, 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT family_id, 'stage', new.current_stage, 1 FROM fleet_members WHERE rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- The partition tag is unique per member: counting its values would copy it.
CREATE TRIGGER facet_tags_insert AFTER INSERT ON registered_model_tags WHEN new.key != 'flotilla.partition' BEGIN
    INSERT INTO facet_counts VALUES (0, 'tag:' || new.key, new.value, 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT family_id, 'tag:' || new.key, new.value, 1 FROM fleet_members WHERE rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER facet_tags_delete AFTER DELETE ON registered_model_tags WHEN old.key != 'flotilla.partition' BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'tag:' || old.key AND value = old.value;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id) AND dim = 'tag:' || old.key AND value = old.value;
END;
CREATE TRIGGER facet_tags_update AFTER UPDATE OF value ON registered_model_tags
WHEN old.key != 'flotilla.partition' AND old.value IS NOT new.value BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope = 0 AND dim = 'tag:' || old.key AND value = old.value;
    UPDATE facet_counts SET n = n - 1
    WHERE scope = (SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id) AND dim = 'tag:' || old.key AND value = old.value;
    INSERT INTO facet_counts VALUES (0, 'tag:' || new.key, new.value, 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT family_id, 'tag:' || new.key, new.value, 1 FROM fleet_members WHERE rm_id = new.rm_id
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Membership moves a model's children into or out of its family's scope.
CREATE TRIGGER facet_members_insert AFTER INSERT ON fleet_members BEGIN
    INSERT INTO facet_counts VALUES (0, 'family', CAST(new.family_id AS TEXT), 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts VALUES (new.family_id, 'family', CAST(new.family_id AS TEXT), 1) ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO facet_counts SELECT new.family_id, 'alias', alias, count(*) FROM registered_model_aliases
        WHERE rm_id = new.rm_id GROUP BY alias ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO facet_counts SELECT new.family_id, 'stage', current_stage, count(*) FROM model_versions
        WHERE rm_id = new.rm_id GROUP BY current_stage ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO facet_counts SELECT new.family_id, 'tag:' || key, value, 1 FROM registered_model_tags
        WHERE rm_id = new.rm_id AND key != 'flotilla.partition' ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER facet_members_delete AFTER DELETE ON fleet_members BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE scope IN (0, old.family_id) AND dim = 'family' AND value = CAST(old.family_id AS TEXT);
    UPDATE facet_counts SET n = n - (SELECT count(*) FROM registered_model_aliases a WHERE a.rm_id = old.rm_id AND a.alias = facet_counts.value)
    WHERE scope = old.family_id AND dim = 'alias';
    UPDATE facet_counts SET n = n - (SELECT count(*) FROM model_versions v WHERE v.rm_id = old.rm_id AND v.current_stage = facet_counts.value)
    WHERE scope = old.family_id AND dim = 'stage';
    UPDATE facet_counts SET n = n - (SELECT count(*) FROM registered_model_tags t
                                     WHERE t.rm_id = old.rm_id AND 'tag:' || t.key = facet_counts.dim AND t.value = facet_counts.value)
    WHERE scope = old.family_id AND dim LIKE 'tag:%' AND dim != 'tag:flotilla.partition';
END;

-- The counts for what exists already come from facet_recount.sql, applied
-- with this migration (and after every bulk load).
-- Recounts every facet from the tables: after migration 3, and after a bulk
-- load that ran without the facet triggers.
DELETE FROM facet_counts;
INSERT INTO facet_counts SELECT 0, 'models', '', count(*) FROM registered_models;
INSERT INTO facet_counts SELECT 0, 'family', CAST(family_id AS TEXT), count(*) FROM fleet_members GROUP BY family_id;
INSERT INTO facet_counts SELECT family_id, 'family', CAST(family_id AS TEXT), count(*) FROM fleet_members GROUP BY family_id;
INSERT INTO facet_counts SELECT 0, 'alias', alias, count(*) FROM registered_model_aliases GROUP BY alias;
INSERT INTO facet_counts SELECT fm.family_id, 'alias', a.alias, count(*) FROM registered_model_aliases a
    JOIN fleet_members fm ON fm.rm_id = a.rm_id GROUP BY fm.family_id, a.alias;
INSERT INTO facet_counts SELECT 0, 'stage', current_stage, count(*) FROM model_versions GROUP BY current_stage;
INSERT INTO facet_counts SELECT fm.family_id, 'stage', v.current_stage, count(*) FROM model_versions v
    JOIN fleet_members fm ON fm.rm_id = v.rm_id GROUP BY fm.family_id, v.current_stage;
INSERT INTO facet_counts SELECT 0, 'tag:' || key, value, count(*) FROM registered_model_tags
    WHERE key != 'flotilla.partition' GROUP BY key, value;
INSERT INTO facet_counts SELECT fm.family_id, 'tag:' || t.key, t.value, count(*) FROM registered_model_tags t
    JOIN fleet_members fm ON fm.rm_id = t.rm_id WHERE t.key != 'flotilla.partition' GROUP BY fm.family_id, t.key, t.value;
