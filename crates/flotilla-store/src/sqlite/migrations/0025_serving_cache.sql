-- The serving cache per window and per family and day (issue 16: the
-- report's cache hit rate and memory per family). A window counts the
-- requests that found their model in memory (hits) and those that waited
-- for it to load (misses), and keeps the loaded model's measured bytes
-- (the largest seen). A family's day sums its served versions' bytes: the
-- memory its models took that day, each counted once.
--
-- Adding a column with a constant default rewrites no row: instant at
-- 10⁷ windows. Windows written before have zeros (nothing was recorded).
ALTER TABLE monitor_windows ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitor_windows ADD COLUMN cache_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitor_windows ADD COLUMN model_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report_serving_days ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report_serving_days ADD COLUMN cache_misses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report_serving_days ADD COLUMN model_bytes INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER report_serving_insert;
DROP TRIGGER report_serving_update;

CREATE TRIGGER report_serving_insert AFTER INSERT ON monitor_windows WHEN new.grain = 2 BEGIN
    INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors,
                                     cache_hits, cache_misses, model_bytes)
    VALUES (
        coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1),
        new.start_ms,
        NOT EXISTS (SELECT 1 FROM monitor_windows w WHERE w.grain = 2 AND w.rm_id = new.rm_id
                    AND w.version <> new.version AND w.start_ms = new.start_ms),
        new.requests,
        new.rows,
        new.errors_client + new.errors_unavailable + new.errors_too_large + new.errors_server,
        new.cache_hits,
        new.cache_misses,
        new.model_bytes
    )
    ON CONFLICT (family_id, day) DO UPDATE SET
        models = models + excluded.models,
        requests = requests + excluded.requests,
        rows = rows + excluded.rows,
        errors = errors + excluded.errors,
        cache_hits = cache_hits + excluded.cache_hits,
        cache_misses = cache_misses + excluded.cache_misses,
        model_bytes = model_bytes + excluded.model_bytes;
END;

CREATE TRIGGER report_serving_update AFTER UPDATE ON monitor_windows WHEN new.grain = 2 BEGIN
    INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors,
                                     cache_hits, cache_misses, model_bytes)
    VALUES (
        coalesce((SELECT family_id FROM fleet_members WHERE rm_id = new.rm_id), -1),
        new.start_ms,
        0,
        new.requests - old.requests,
        new.rows - old.rows,
        (new.errors_client + new.errors_unavailable + new.errors_too_large + new.errors_server)
            - (old.errors_client + old.errors_unavailable + old.errors_too_large + old.errors_server),
        new.cache_hits - old.cache_hits,
        new.cache_misses - old.cache_misses,
        new.model_bytes - old.model_bytes
    )
    ON CONFLICT (family_id, day) DO UPDATE SET
        requests = requests + excluded.requests,
        rows = rows + excluded.rows,
        errors = errors + excluded.errors,
        cache_hits = cache_hits + excluded.cache_hits,
        cache_misses = cache_misses + excluded.cache_misses,
        model_bytes = model_bytes + excluded.model_bytes;
END;
