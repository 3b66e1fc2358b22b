-- Serving per family and day for the reports (issue 16). A report's serving
-- section and its traffic plot summed the scope's day windows
-- (`monitor_windows`, grain 2: one row per served version and day, with its
-- statistics blob): at 10⁶ models, 7 M rows and seconds of page reads for a
-- week. Triggers keep these sums as windows are written; a report reads a
-- row per family and day.
--
-- The sums are a history: pruning old windows (retention) leaves them, so
-- a report over an older period still has its traffic. A model counts in
-- the family it was in when its window was first written.
CREATE TABLE report_serving_days (
    family_id INTEGER NOT NULL,           -- -1: models in no family
    day       INTEGER NOT NULL,           -- the day window's start, ms since the epoch
    models    INTEGER NOT NULL DEFAULT 0, -- models with a day window (a model serving two versions counts once)
    requests  INTEGER NOT NULL DEFAULT 0,
    rows      INTEGER NOT NULL DEFAULT 0,
    errors    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (family_id, day)
) WITHOUT ROWID;

CREATE TRIGGER report_serving_insert AFTER INSERT ON monitor_windows WHEN new.grain = 2 BEGIN
    INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors)
    VALUES (
        coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1),
        new.start_ms,
        NOT EXISTS (SELECT 1 FROM monitor_windows w WHERE w.grain = 2 AND w.rm_id = new.rm_id
                    AND w.version <> new.version AND w.start_ms = new.start_ms),
        new.requests,
        new.rows,
        new.errors_client + new.errors_unavailable + new.errors_too_large + new.errors_server
    )
    ON CONFLICT (family_id, day) DO UPDATE SET
        models = models + excluded.models,
        requests = requests + excluded.requests,
        rows = rows + excluded.rows,
        errors = errors + excluded.errors;
END;

CREATE TRIGGER report_serving_update AFTER UPDATE ON monitor_windows WHEN new.grain = 2 BEGIN
    INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors)
    VALUES (
        coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1),
        new.start_ms,
        0,
        new.requests - old.requests,
        new.rows - old.rows,
        (new.errors_client + new.errors_unavailable + new.errors_too_large + new.errors_server)
            - (old.errors_client + old.errors_unavailable + old.errors_too_large + old.errors_server)
    )
    ON CONFLICT (family_id, day) DO UPDATE SET
        requests = requests + excluded.requests,
        rows = rows + excluded.rows,
        errors = errors + excluded.errors;
END;

-- Latency objectives per family: the served models' `latency_p99` health
-- (count and sum of values, and how many warn or fail), kept as the health
-- job writes it.
CREATE TABLE report_latency (
    family_id INTEGER PRIMARY KEY,        -- -1: models in no family
    models    INTEGER NOT NULL DEFAULT 0,
    valued    INTEGER NOT NULL DEFAULT 0, -- of which with a value
    total     REAL NOT NULL DEFAULT 0,
    warn      INTEGER NOT NULL DEFAULT 0,
    fail      INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER report_latency_insert AFTER INSERT ON model_health WHEN new.check_name = 'latency_p99' BEGIN
    INSERT INTO report_latency (family_id, models, valued, total, warn, fail)
    VALUES (coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1), 1,
            new.value IS NOT NULL, coalesce(new.value, 0), new.status = 'warn', new.status = 'fail')
    ON CONFLICT (family_id) DO UPDATE SET
        models = models + 1, valued = valued + excluded.valued, total = total + excluded.total,
        warn = warn + excluded.warn, fail = fail + excluded.fail;
END;

CREATE TRIGGER report_latency_update AFTER UPDATE ON model_health WHEN new.check_name = 'latency_p99' BEGIN
    UPDATE report_latency SET
        valued = valued + (new.value IS NOT NULL) - (old.value IS NOT NULL),
        total = total + coalesce(new.value, 0) - coalesce(old.value, 0),
        warn = warn + (new.status = 'warn') - (old.status = 'warn'),
        fail = fail + (new.status = 'fail') - (old.status = 'fail')
    WHERE family_id = coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1);
END;

CREATE TRIGGER report_latency_delete AFTER DELETE ON model_health WHEN old.check_name = 'latency_p99' BEGIN
    UPDATE report_latency SET
        models = models - 1,
        valued = valued - (old.value IS NOT NULL),
        total = total - coalesce(old.value, 0),
        warn = warn - (old.status = 'warn'),
        fail = fail - (old.status = 'fail')
    WHERE family_id = coalesce((SELECT family_id FROM fleet_members WHERE rm_id = old.rm_id), -1);
END;

-- The drift section's most drifted models: the failing or warning drift
-- checks by status and value (a report walked every model with any failing
-- check, 390,000 of 10⁶, with two probes each: 1.3-1.5 s).
CREATE INDEX model_health_drifting ON model_health (status, value DESC)
    WHERE check_name IN ('data_drift', 'prediction_drift') AND status IN ('warn', 'fail');

-- What is there already.
INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors)
SELECT coalesce(m.family_id, -1), w.start_ms, count(DISTINCT w.rm_id), sum(w.requests), sum(w.rows),
       sum(w.errors_client + w.errors_unavailable + w.errors_too_large + w.errors_server)
FROM monitor_windows w LEFT JOIN fleet_members m ON m.rm_id = w.rm_id
WHERE w.grain = 2
GROUP BY 1, 2;
INSERT INTO report_latency (family_id, models, valued, total, warn, fail)
SELECT coalesce(m.family_id, -1), count(*), count(h.value), coalesce(sum(h.value), 0),
       sum(h.status = 'warn'), sum(h.status = 'fail')
FROM model_health h LEFT JOIN fleet_members m ON m.rm_id = h.rm_id
WHERE h.check_name = 'latency_p99'
GROUP BY 1;
