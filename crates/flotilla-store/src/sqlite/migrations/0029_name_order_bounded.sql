-- Placing a new name looked for its nearest *placed* neighbours by walking
-- the name index past every unplaced name between: once a gap filled up (a
-- family's models created into one place of the name order), every further
-- create there walked all the unplaced names before it — 30 ms a create
-- after some 30,000 of them at 10⁶ models. Now the neighbours are looked for
-- among the nearest 64 names on each side only; a name with no placed
-- neighbour among them (but names beyond) stays unplaced, and the store
-- relabels the neighbourhood (`name_order_respace.rs`), which places it
-- and the unplaced names around it. Numbers 26-28 are PostgreSQL's.
DROP TRIGGER registered_model_name_placing_insert;
CREATE TRIGGER registered_model_name_placing_insert INSTEAD OF INSERT ON registered_model_name_placing BEGIN
    INSERT INTO registered_model_name_order (rm_id, place)
    SELECT new.rm_id, place FROM (
        SELECT CASE
            WHEN (lo IS NULL AND below) OR (hi IS NULL AND above) THEN NULL
            WHEN lo IS NULL AND hi IS NULL THEN 0
            WHEN hi IS NULL THEN CASE WHEN lo < 4611686018427387904 THEN lo + 1048576 END
            WHEN lo IS NULL THEN CASE WHEN hi > -4611686018427387904 THEN hi - 1048576 END
            WHEN hi - lo >= 2 THEN lo + (hi - lo) / 2
        END AS place
        FROM (SELECT
            (SELECT o.place FROM (SELECT rm_id, name FROM registered_models
                                  WHERE name < new.name ORDER BY name DESC LIMIT 64) r
             JOIN registered_model_name_order o ON o.rm_id = r.rm_id ORDER BY r.name DESC LIMIT 1) AS lo,
            (SELECT o.place FROM (SELECT rm_id, name FROM registered_models
                                  WHERE name > new.name ORDER BY name LIMIT 64) r
             JOIN registered_model_name_order o ON o.rm_id = r.rm_id ORDER BY r.name LIMIT 1) AS hi,
            EXISTS (SELECT 1 FROM registered_models WHERE name < new.name) AS below,
            EXISTS (SELECT 1 FROM registered_models WHERE name > new.name) AS above)
    ) WHERE place IS NOT NULL;
    INSERT INTO registered_model_names_ordered (rowid, name)
    SELECT place, new.name FROM registered_model_name_order WHERE rm_id = new.rm_id;
    INSERT INTO registered_model_names_unplaced (rm_id)
    SELECT new.rm_id WHERE NOT EXISTS (SELECT 1 FROM registered_model_name_order WHERE rm_id = new.rm_id);
END;
