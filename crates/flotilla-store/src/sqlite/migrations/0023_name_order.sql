-- Substring search in name order (issue 12). `registered_model_names` gives
-- the models whose name holds a trigram in rowid (model id) order, so a page
-- in name order had to read and sort every candidate, or walk the name index
-- testing each name (5-12 ms for `%ddd%` at 10⁶ models). Here each model
-- gets a *place*: an integer that grows with its name (gaps of 2^20 between
-- neighbours, so a new name takes the middle of its gap), and a second
-- trigram index keyed by the place hands out a trigram's names already in
-- name order: a first page reads ~100 entries of it.
--
-- A name that finds no free integer between its placed neighbours (some 20
-- names inserted into one gap) stays unplaced, listed in
-- `registered_model_names_unplaced`; a search merges those in, or uses the
-- older plans when there are many.
CREATE TABLE registered_model_name_order (
    rm_id INTEGER PRIMARY KEY,
    place INTEGER NOT NULL UNIQUE
);
CREATE TABLE registered_model_names_unplaced (rm_id INTEGER PRIMARY KEY);
-- Trigrams only (no positions): the page re-checks its pattern on each name.
CREATE VIRTUAL TABLE registered_model_names_ordered USING fts5 (
    name, content = '', contentless_delete = 1, detail = 'none', tokenize = 'trigram'
);

-- Placing a model: the middle of the gap between its placed neighbours in
-- name order, or a gap's length past the last (before the first); none when
-- the gap is full. Written once, as a view's trigger, for the insert and
-- the rename triggers.
CREATE VIEW registered_model_name_placing (rm_id, name) AS SELECT rm_id, name FROM registered_models WHERE 0;
CREATE TRIGGER registered_model_name_placing_insert INSTEAD OF INSERT ON registered_model_name_placing BEGIN
    INSERT INTO registered_model_name_order (rm_id, place)
    SELECT new.rm_id, place FROM (
        SELECT CASE
            WHEN lo IS NULL AND hi IS NULL THEN 0
            WHEN hi IS NULL THEN CASE WHEN lo < 4611686018427387904 THEN lo + 1048576 END
            WHEN lo IS NULL THEN CASE WHEN hi > -4611686018427387904 THEN hi - 1048576 END
            WHEN hi - lo >= 2 THEN lo + (hi - lo) / 2
        END AS place
        FROM (SELECT
            (SELECT o.place FROM registered_models r JOIN registered_model_name_order o ON o.rm_id = r.rm_id
             WHERE r.name < new.name ORDER BY r.name DESC LIMIT 1) AS lo,
            (SELECT o.place FROM registered_models r JOIN registered_model_name_order o ON o.rm_id = r.rm_id
             WHERE r.name > new.name ORDER BY r.name LIMIT 1) AS hi)
    ) WHERE place IS NOT NULL;
    INSERT INTO registered_model_names_ordered (rowid, name)
    SELECT place, new.name FROM registered_model_name_order WHERE rm_id = new.rm_id;
    INSERT INTO registered_model_names_unplaced (rm_id)
    SELECT new.rm_id WHERE NOT EXISTS (SELECT 1 FROM registered_model_name_order WHERE rm_id = new.rm_id);
END;

-- Forgetting a model's place (before a rename places it again, and on delete).
CREATE VIEW registered_model_name_unplacing (rm_id) AS SELECT rm_id FROM registered_models WHERE 0;
CREATE TRIGGER registered_model_name_unplacing_insert INSTEAD OF INSERT ON registered_model_name_unplacing BEGIN
    DELETE FROM registered_model_names_ordered
    WHERE rowid = (SELECT place FROM registered_model_name_order WHERE rm_id = new.rm_id);
    DELETE FROM registered_model_name_order WHERE rm_id = new.rm_id;
    DELETE FROM registered_model_names_unplaced WHERE rm_id = new.rm_id;
END;

CREATE TRIGGER registered_model_name_order_insert AFTER INSERT ON registered_models BEGIN
    INSERT INTO registered_model_name_placing (rm_id, name) VALUES (new.rm_id, new.name);
END;
CREATE TRIGGER registered_model_name_order_rename AFTER UPDATE OF name ON registered_models BEGIN
    INSERT INTO registered_model_name_unplacing (rm_id) VALUES (old.rm_id);
    INSERT INTO registered_model_name_placing (rm_id, name) VALUES (new.rm_id, new.name);
END;
CREATE TRIGGER registered_model_name_order_delete AFTER DELETE ON registered_models BEGIN
    INSERT INTO registered_model_name_unplacing (rm_id) VALUES (old.rm_id);
END;

-- The models already there, placed in one pass (copied in `name_order_rebuild.sql`).
INSERT INTO registered_model_name_order (rm_id, place)
SELECT rm_id, (row_number() OVER (ORDER BY name) - 1) * 1048576 FROM registered_models;
INSERT INTO registered_model_names_ordered (rowid, name)
SELECT o.place, r.name FROM registered_model_name_order o JOIN registered_models r ON r.rm_id = o.rm_id
ORDER BY o.place;
