-- Metric pairs (issue 12): for each aliased version (and each version) and
-- each ordered pair of its metrics (a, b), a's value bucket, b's value and
-- a's value, so that "a in a range, sorted by b" reads, per bucket of a, the
-- first rows in b's order (`sqlite/metric_pairs.rs`) instead of the whole
-- range of a or the whole order of b. Kept in step by triggers; the bucket
-- is `flotilla_metric_bucket(value)`, a function every store connection
-- registers (monotone in the value: 32 buckets per binade).
--
-- The pairs are quadratic in an entity's metric count, and a run may log
-- any number of keys: only versions (and aliased versions) with at most
-- MAX_PAIRED_METRICS = 16 metrics (`metric_pairs.rs`) are paired, at most
-- 16 x 15 rows each. An entity that crosses the cap has its pairs removed
-- and one row in an overflow table, and the triggers' WHEN clauses (a count
-- capped at 17 rows, an overflow probe) keep every write O(cap). It stays
-- in overflow until its last metric is gone (conservative: an alias moved
-- to a smaller version is re-paired, as the move deletes every metric
-- first). A search merges the few entities of its table (alias: of its
-- alias name) in overflow into the pairs' page, read from the metric tables;
-- with many (`SearchPlanning::pair_overflow_merged`), the far-end plan.

-- Versions keyed (rm_id, version): the metrics of one version, for the triggers.
CREATE INDEX model_version_metrics_by_version ON model_version_metrics (rm_id, version);

CREATE TABLE alias_metric_pairs (
    rm_id   INTEGER NOT NULL,
    alias   TEXT NOT NULL,
    key_a   TEXT NOT NULL,
    key_b   TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    value_b REAL NOT NULL,
    value_a REAL NOT NULL,
    PRIMARY KEY (rm_id, alias, key_a, key_b)
) WITHOUT ROWID;
CREATE INDEX alias_metric_pairs_by_bucket ON alias_metric_pairs (alias, key_a, key_b, bucket, value_b, rm_id, value_a);

CREATE TABLE version_metric_pairs (
    rm_id   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    key_a   TEXT NOT NULL,
    key_b   TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    value_b REAL NOT NULL,
    value_a REAL NOT NULL,
    PRIMARY KEY (rm_id, version, key_a, key_b)
) WITHOUT ROWID;
CREATE INDEX version_metric_pairs_by_bucket ON version_metric_pairs (key_a, key_b, bucket, value_b, rm_id, version, value_a);

-- The entities past the cap: not paired.
CREATE TABLE alias_metric_overflow (
    alias TEXT NOT NULL,
    rm_id INTEGER NOT NULL,
    PRIMARY KEY (alias, rm_id)
) WITHOUT ROWID;
CREATE TABLE version_metric_overflow (
    rm_id   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (rm_id, version)
) WITHOUT ROWID;

CREATE TRIGGER alias_metric_pairs_insert AFTER INSERT ON alias_metrics
WHEN NOT EXISTS (SELECT 1 FROM alias_metric_overflow WHERE alias = new.alias AND rm_id = new.rm_id)
 AND (SELECT count(*) FROM (SELECT 1 FROM alias_metrics WHERE rm_id = new.rm_id AND alias = new.alias LIMIT 17)) <= 16
BEGIN
    INSERT OR REPLACE INTO alias_metric_pairs (rm_id, alias, key_a, key_b, bucket, value_b, value_a)
    SELECT new.rm_id, new.alias, new.key, o.key, flotilla_metric_bucket(new.value), o.value, new.value
      FROM alias_metrics o WHERE o.rm_id = new.rm_id AND o.alias = new.alias AND o.key <> new.key
    UNION ALL
    SELECT new.rm_id, new.alias, o.key, new.key, flotilla_metric_bucket(o.value), new.value, o.value
      FROM alias_metrics o WHERE o.rm_id = new.rm_id AND o.alias = new.alias AND o.key <> new.key;
END;
CREATE TRIGGER alias_metric_pairs_overflow AFTER INSERT ON alias_metrics
WHEN NOT EXISTS (SELECT 1 FROM alias_metric_overflow WHERE alias = new.alias AND rm_id = new.rm_id)
 AND (SELECT count(*) FROM (SELECT 1 FROM alias_metrics WHERE rm_id = new.rm_id AND alias = new.alias LIMIT 17)) > 16
BEGIN
    INSERT INTO alias_metric_overflow (alias, rm_id) VALUES (new.alias, new.rm_id);
    DELETE FROM alias_metric_pairs WHERE rm_id = new.rm_id AND alias = new.alias;
END;
CREATE TRIGGER alias_metric_pairs_delete AFTER DELETE ON alias_metrics BEGIN
    DELETE FROM alias_metric_pairs
     WHERE rm_id = old.rm_id AND alias = old.alias AND (key_a = old.key OR key_b = old.key);
    DELETE FROM alias_metric_overflow
     WHERE alias = old.alias AND rm_id = old.rm_id
       AND NOT EXISTS (SELECT 1 FROM alias_metrics WHERE rm_id = old.rm_id AND alias = old.alias);
END;
CREATE TRIGGER alias_metric_pairs_update AFTER UPDATE ON alias_metrics
WHEN NOT EXISTS (SELECT 1 FROM alias_metric_overflow WHERE alias = new.alias AND rm_id = new.rm_id)
BEGIN
    DELETE FROM alias_metric_pairs
     WHERE rm_id = old.rm_id AND alias = old.alias AND (key_a = old.key OR key_b = old.key);
    INSERT OR REPLACE INTO alias_metric_pairs (rm_id, alias, key_a, key_b, bucket, value_b, value_a)
    SELECT new.rm_id, new.alias, new.key, o.key, flotilla_metric_bucket(new.value), o.value, new.value
      FROM alias_metrics o WHERE o.rm_id = new.rm_id AND o.alias = new.alias AND o.key <> new.key
    UNION ALL
    SELECT new.rm_id, new.alias, o.key, new.key, flotilla_metric_bucket(o.value), new.value, o.value
      FROM alias_metrics o WHERE o.rm_id = new.rm_id AND o.alias = new.alias AND o.key <> new.key;
END;

CREATE TRIGGER version_metric_pairs_insert AFTER INSERT ON model_version_metrics
WHEN NOT EXISTS (SELECT 1 FROM version_metric_overflow WHERE rm_id = new.rm_id AND version = new.version)
 AND (SELECT count(*) FROM (SELECT 1 FROM model_version_metrics
                             WHERE rm_id = new.rm_id AND version = new.version LIMIT 17)) <= 16
BEGIN
    INSERT OR REPLACE INTO version_metric_pairs (rm_id, version, key_a, key_b, bucket, value_b, value_a)
    SELECT new.rm_id, new.version, new.key, o.key, flotilla_metric_bucket(new.value), o.value, new.value
      FROM model_version_metrics o WHERE o.rm_id = new.rm_id AND o.version = new.version AND o.key <> new.key
    UNION ALL
    SELECT new.rm_id, new.version, o.key, new.key, flotilla_metric_bucket(o.value), new.value, o.value
      FROM model_version_metrics o WHERE o.rm_id = new.rm_id AND o.version = new.version AND o.key <> new.key;
END;
CREATE TRIGGER version_metric_pairs_overflow AFTER INSERT ON model_version_metrics
WHEN NOT EXISTS (SELECT 1 FROM version_metric_overflow WHERE rm_id = new.rm_id AND version = new.version)
 AND (SELECT count(*) FROM (SELECT 1 FROM model_version_metrics
                             WHERE rm_id = new.rm_id AND version = new.version LIMIT 17)) > 16
BEGIN
    INSERT INTO version_metric_overflow (rm_id, version) VALUES (new.rm_id, new.version);
    DELETE FROM version_metric_pairs WHERE rm_id = new.rm_id AND version = new.version;
END;
CREATE TRIGGER version_metric_pairs_delete AFTER DELETE ON model_version_metrics BEGIN
    DELETE FROM version_metric_pairs
     WHERE rm_id = old.rm_id AND version = old.version AND (key_a = old.key OR key_b = old.key);
    DELETE FROM version_metric_overflow
     WHERE rm_id = old.rm_id AND version = old.version
       AND NOT EXISTS (SELECT 1 FROM model_version_metrics WHERE rm_id = old.rm_id AND version = old.version);
END;
CREATE TRIGGER version_metric_pairs_update AFTER UPDATE ON model_version_metrics
WHEN NOT EXISTS (SELECT 1 FROM version_metric_overflow WHERE rm_id = new.rm_id AND version = new.version)
BEGIN
    DELETE FROM version_metric_pairs
     WHERE rm_id = old.rm_id AND version = old.version AND (key_a = old.key OR key_b = old.key);
    INSERT OR REPLACE INTO version_metric_pairs (rm_id, version, key_a, key_b, bucket, value_b, value_a)
    SELECT new.rm_id, new.version, new.key, o.key, flotilla_metric_bucket(new.value), o.value, new.value
      FROM model_version_metrics o WHERE o.rm_id = new.rm_id AND o.version = new.version AND o.key <> new.key
    UNION ALL
    SELECT new.rm_id, new.version, o.key, new.key, flotilla_metric_bucket(o.value), new.value, o.value
      FROM model_version_metrics o WHERE o.rm_id = new.rm_id AND o.version = new.version AND o.key <> new.key;
END;

-- The pairs of what is already there (the same statements as `bulk_load`'s rebuild).
INSERT INTO alias_metric_overflow (alias, rm_id)
SELECT alias, rm_id FROM alias_metrics GROUP BY rm_id, alias HAVING count(*) > 16;
INSERT INTO version_metric_overflow (rm_id, version)
SELECT rm_id, version FROM model_version_metrics GROUP BY rm_id, version HAVING count(*) > 16;
INSERT INTO alias_metric_pairs (rm_id, alias, key_a, key_b, bucket, value_b, value_a)
SELECT a.rm_id, a.alias, a.key, b.key, flotilla_metric_bucket(a.value), b.value, a.value
  FROM alias_metrics a JOIN alias_metrics b ON b.rm_id = a.rm_id AND b.alias = a.alias AND b.key <> a.key
 WHERE NOT EXISTS (SELECT 1 FROM alias_metric_overflow o WHERE o.alias = a.alias AND o.rm_id = a.rm_id);
INSERT INTO version_metric_pairs (rm_id, version, key_a, key_b, bucket, value_b, value_a)
SELECT a.rm_id, a.version, a.key, b.key, flotilla_metric_bucket(a.value), b.value, a.value
  FROM model_version_metrics a JOIN model_version_metrics b ON b.rm_id = a.rm_id AND b.version = a.version AND b.key <> a.key
 WHERE NOT EXISTS (SELECT 1 FROM version_metric_overflow o WHERE o.rm_id = a.rm_id AND o.version = a.version);
