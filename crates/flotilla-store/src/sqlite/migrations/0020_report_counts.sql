-- Report counters (issue 16): what the staleness and data sections of a
-- fleet report need per family, kept by triggers so that a report of 10⁶
-- models reads a few rows per family instead of every champion.
--
-- `report_champions` holds one row per champion alias (the alias named
-- 'champion' on a version that exists): its family (0 outside any family),
-- version time, newest training data time and whether any of its training
-- datasets is superseded (a newer digest of the same name exists). The view
-- `report_champion_rows` is its definition; every trigger below refreshes
-- the rows an event touches by deleting them and inserting them again from
-- the view, so a row is always what the view says. Its indexes serve the
-- capped lists (oldest champions) and the stale counts by walking an index.
--
-- `report_family_counts` and `report_dataset_champions` are kept by the
-- insert and delete triggers of `report_champions`, which read the
-- champion's lineage edges at that moment. A change to `dataset_versions`
-- therefore takes the champion row out BEFORE it and puts it back AFTER,
-- so the edge is counted out and in with the lineage it belongs to.
-- `report_dataset_champions` counts the champions trained on each dataset
-- per family, and under family -1 in the whole fleet (the fleet's capped
-- list walks that family's index). Rows may reach 0 and stay; readers skip them.

CREATE TABLE report_champions (
    rm_id      INTEGER PRIMARY KEY,
    family_id  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    made       INTEGER NOT NULL,
    data_time  INTEGER,
    superseded INTEGER NOT NULL
);
CREATE INDEX report_champions_by_family_age ON report_champions (family_id, made);
CREATE INDEX report_champions_by_age ON report_champions (made);

CREATE TABLE report_family_counts (
    family_id  INTEGER PRIMARY KEY,
    champions  INTEGER NOT NULL,
    made_sum   INTEGER NOT NULL,
    with_data  INTEGER NOT NULL,
    data_sum   INTEGER NOT NULL,
    superseded INTEGER NOT NULL
);

CREATE TABLE report_dataset_champions (
    ds_id     INTEGER NOT NULL,
    family_id INTEGER NOT NULL,
    champions INTEGER NOT NULL,
    PRIMARY KEY (ds_id, family_id)
) WITHOUT ROWID;
CREATE INDEX report_dataset_champions_by_family ON report_dataset_champions (family_id, champions);

-- Models registered per UTC day (creation_time / 86400000) and family (0:
-- outside any family), for the registrations-per-week table: a period's
-- whole days are summed here, its two partial days counted on the
-- creation-time index.
CREATE TABLE report_registrations (
    family_id INTEGER NOT NULL,
    day       INTEGER NOT NULL,
    models    INTEGER NOT NULL,
    PRIMARY KEY (family_id, day)
) WITHOUT ROWID;

CREATE VIEW report_champion_rows AS
SELECT a.rm_id AS rm_id, COALESCE(fm.family_id, 0) AS family_id, a.version AS version, mv.creation_time AS made,
  (SELECT max(de.creation_time) FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id
    WHERE dv.rm_id = a.rm_id AND dv.version = a.version) AS data_time,
  EXISTS (SELECT 1 FROM dataset_versions dv JOIN dataset_entities de ON de.ds_id = dv.ds_id
    WHERE dv.rm_id = a.rm_id AND dv.version = a.version AND EXISTS (
      SELECT 1 FROM dataset_entities d2 WHERE d2.name = de.name AND (d2.creation_time > de.creation_time
        OR (d2.creation_time = de.creation_time AND d2.ds_id > de.ds_id)))) AS superseded
FROM registered_model_aliases a
JOIN model_versions mv ON mv.rm_id = a.rm_id AND mv.version = a.version
LEFT JOIN fleet_members fm ON fm.rm_id = a.rm_id
WHERE a.alias = 'champion';

-- The counters follow the champion rows.
CREATE TRIGGER report_champions_count_insert AFTER INSERT ON report_champions BEGIN
    INSERT INTO report_family_counts VALUES (new.family_id, 1, new.made, new.data_time IS NOT NULL,
        COALESCE(new.data_time, 0), new.superseded)
    ON CONFLICT DO UPDATE SET champions = champions + 1, made_sum = made_sum + excluded.made_sum,
        with_data = with_data + excluded.with_data, data_sum = data_sum + excluded.data_sum,
        superseded = superseded + excluded.superseded;
    INSERT INTO report_dataset_champions SELECT dv.ds_id, s.family_id, 1 FROM dataset_versions dv
        JOIN (SELECT new.family_id AS family_id UNION ALL SELECT -1) s
        WHERE dv.rm_id = new.rm_id AND dv.version = new.version
    ON CONFLICT DO UPDATE SET champions = champions + 1;
END;
CREATE TRIGGER report_champions_count_delete AFTER DELETE ON report_champions BEGIN
    UPDATE report_family_counts SET champions = champions - 1, made_sum = made_sum - old.made,
        with_data = with_data - (old.data_time IS NOT NULL), data_sum = data_sum - COALESCE(old.data_time, 0),
        superseded = superseded - old.superseded
    WHERE family_id = old.family_id;
    UPDATE report_dataset_champions SET champions = champions - 1
    WHERE family_id IN (old.family_id, -1) AND ds_id IN (SELECT ds_id FROM dataset_versions
        WHERE rm_id = old.rm_id AND version = old.version);
END;

-- Alias moves.
CREATE TRIGGER report_aliases_insert AFTER INSERT ON registered_model_aliases WHEN new.alias = 'champion' BEGIN
    DELETE FROM report_champions WHERE rm_id = new.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = new.rm_id;
END;
CREATE TRIGGER report_aliases_update AFTER UPDATE ON registered_model_aliases
WHEN new.alias = 'champion' OR old.alias = 'champion' BEGIN
    DELETE FROM report_champions WHERE rm_id IN (old.rm_id, new.rm_id);
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id IN (old.rm_id, new.rm_id);
END;
CREATE TRIGGER report_aliases_delete AFTER DELETE ON registered_model_aliases WHEN old.alias = 'champion' BEGIN
    DELETE FROM report_champions WHERE rm_id = old.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = old.rm_id;
END;

-- The champion's version appearing, going or changing time.
CREATE TRIGGER report_versions_insert AFTER INSERT ON model_versions
WHEN EXISTS (SELECT 1 FROM registered_model_aliases WHERE rm_id = new.rm_id AND alias = 'champion' AND version = new.version) BEGIN
    DELETE FROM report_champions WHERE rm_id = new.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = new.rm_id;
END;
CREATE TRIGGER report_versions_delete AFTER DELETE ON model_versions
WHEN EXISTS (SELECT 1 FROM report_champions WHERE rm_id = old.rm_id AND version = old.version) BEGIN
    DELETE FROM report_champions WHERE rm_id = old.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = old.rm_id;
END;
CREATE TRIGGER report_versions_time AFTER UPDATE OF creation_time ON model_versions
WHEN old.creation_time IS NOT new.creation_time
  AND EXISTS (SELECT 1 FROM report_champions WHERE rm_id = new.rm_id AND version = new.version) BEGIN
    DELETE FROM report_champions WHERE rm_id = new.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = new.rm_id;
END;

-- A model counts in its family's registrations while it is a member. Its
-- delete is counted BEFORE, while the membership still says where; the
-- membership's cascade delete then finds no model and moves nothing.
CREATE TRIGGER report_models_insert AFTER INSERT ON registered_models BEGIN
    INSERT INTO report_registrations
    VALUES (COALESCE((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), 0), new.creation_time / 86400000, 1)
    ON CONFLICT DO UPDATE SET models = models + 1;
END;
CREATE TRIGGER report_models_before_delete BEFORE DELETE ON registered_models BEGIN
    UPDATE report_registrations SET models = models - 1
    WHERE family_id = COALESCE((SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id), 0)
      AND day = old.creation_time / 86400000;
END;

-- Membership moves a champion and a registration between families.
CREATE TRIGGER report_members_insert AFTER INSERT ON fleet_members BEGIN
    DELETE FROM report_champions WHERE rm_id = new.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = new.rm_id;
    UPDATE report_registrations SET models = models - 1
    WHERE family_id = 0 AND day = (SELECT creation_time / 86400000 FROM registered_models WHERE rm_id = new.rm_id);
    INSERT INTO report_registrations SELECT new.family_id, creation_time / 86400000, 1 FROM registered_models
    WHERE rm_id = new.rm_id ON CONFLICT DO UPDATE SET models = models + 1;
END;
CREATE TRIGGER report_members_update AFTER UPDATE OF family_id ON fleet_members BEGIN
    DELETE FROM report_champions WHERE rm_id IN (old.rm_id, new.rm_id);
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id IN (old.rm_id, new.rm_id);
    UPDATE report_registrations SET models = models - 1
    WHERE family_id = old.family_id AND day = (SELECT creation_time / 86400000 FROM registered_models WHERE rm_id = old.rm_id);
    INSERT INTO report_registrations SELECT new.family_id, creation_time / 86400000, 1 FROM registered_models
    WHERE rm_id = new.rm_id ON CONFLICT DO UPDATE SET models = models + 1;
END;
CREATE TRIGGER report_members_delete AFTER DELETE ON fleet_members BEGIN
    DELETE FROM report_champions WHERE rm_id = old.rm_id;
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = old.rm_id;
    UPDATE report_registrations SET models = models - 1
    WHERE family_id = old.family_id AND day = (SELECT creation_time / 86400000 FROM registered_models WHERE rm_id = old.rm_id);
    INSERT INTO report_registrations SELECT 0, creation_time / 86400000, 1 FROM registered_models
    WHERE rm_id = old.rm_id ON CONFLICT DO UPDATE SET models = models + 1;
END;

-- A champion's lineage: out before the edge changes, back in after.
-- (An insert that will be ignored, the edge being there, changes nothing.)
CREATE TRIGGER report_lineage_before_insert BEFORE INSERT ON dataset_versions
WHEN NOT EXISTS (SELECT 1 FROM dataset_versions WHERE ds_id = new.ds_id AND rm_id = new.rm_id AND version = new.version) BEGIN
    DELETE FROM report_champions WHERE rm_id = new.rm_id AND version = new.version;
END;
CREATE TRIGGER report_lineage_insert AFTER INSERT ON dataset_versions
WHEN NOT EXISTS (SELECT 1 FROM report_champions WHERE rm_id = new.rm_id) BEGIN
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = new.rm_id;
END;
CREATE TRIGGER report_lineage_before_delete BEFORE DELETE ON dataset_versions BEGIN
    DELETE FROM report_champions WHERE rm_id = old.rm_id AND version = old.version;
END;
CREATE TRIGGER report_lineage_delete AFTER DELETE ON dataset_versions
WHEN NOT EXISTS (SELECT 1 FROM report_champions WHERE rm_id = old.rm_id) BEGIN
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id = old.rm_id;
END;

-- A new digest supersedes the older ones of its name (and a digest gone
-- may un-supersede them): the champions trained on any digest of the name.
CREATE TRIGGER report_datasets_insert AFTER INSERT ON dataset_entities BEGIN
    DELETE FROM report_champions WHERE rm_id IN (SELECT dv.rm_id FROM dataset_entities de
        JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name = new.name);
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id IN (SELECT dv.rm_id
        FROM dataset_entities de JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name = new.name);
END;
CREATE TRIGGER report_datasets_change AFTER UPDATE OF name, creation_time ON dataset_entities
WHEN old.name IS NOT new.name OR old.creation_time IS NOT new.creation_time BEGIN
    DELETE FROM report_champions WHERE rm_id IN (SELECT dv.rm_id FROM dataset_entities de
        JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name IN (old.name, new.name));
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id IN (SELECT dv.rm_id
        FROM dataset_entities de JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name IN (old.name, new.name));
END;
CREATE TRIGGER report_datasets_delete AFTER DELETE ON dataset_entities BEGIN
    DELETE FROM report_champions WHERE rm_id IN (SELECT dv.rm_id FROM dataset_entities de
        JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name = old.name);
    INSERT INTO report_champions SELECT * FROM report_champion_rows WHERE rm_id IN (SELECT dv.rm_id
        FROM dataset_entities de JOIN dataset_versions dv ON dv.ds_id = de.ds_id WHERE de.name = old.name);
END;

-- The rows for what exists already (the same statements as `report_recount.sql`).
DELETE FROM report_champions;
DELETE FROM report_family_counts;
DELETE FROM report_dataset_champions;
INSERT INTO report_champions SELECT * FROM report_champion_rows ORDER BY rm_id;
DELETE FROM report_registrations;
INSERT INTO report_registrations SELECT COALESCE(fm.family_id, 0) AS fid, rm.creation_time / 86400000 AS day, count(*)
FROM registered_models rm LEFT JOIN fleet_members fm ON fm.rm_id = rm.rm_id GROUP BY fid, day;
