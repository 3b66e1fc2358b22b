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
