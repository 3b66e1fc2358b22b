-- Serving per family and day for the reports (SQLite's migrations 24 and
-- 25, see their comments): a fleet's or a family's serving section and
-- traffic plot read a row per family and day instead of every day window
-- of the period. Kept by a trigger as day windows (grain 2) are written;
-- a history: pruning old windows leaves the sums. A model counts in the
-- family it was in when its window was first written (-1: in none).
CREATE TABLE report_serving_days (
    family_id    BIGINT NOT NULL,
    day          BIGINT NOT NULL,              -- the day window's start, ms since the epoch
    models       BIGINT NOT NULL DEFAULT 0,    -- models with a day window (two versions count once)
    requests     BIGINT NOT NULL DEFAULT 0,
    rows         BIGINT NOT NULL DEFAULT 0,
    errors       BIGINT NOT NULL DEFAULT 0,
    cache_hits   BIGINT NOT NULL DEFAULT 0,
    cache_misses BIGINT NOT NULL DEFAULT 0,
    model_bytes  BIGINT NOT NULL DEFAULT 0,    -- the served versions' bytes, each once
    PRIMARY KEY (family_id, day)
);

CREATE FUNCTION report_serving() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fid BIGINT := coalesce((SELECT family_id FROM fleet_members WHERE rm_id = NEW.rm_id), -1);
    errs BIGINT := NEW.errors_client + NEW.errors_unavailable + NEW.errors_too_large + NEW.errors_server;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_serving_days AS d
            (family_id, day, models, requests, rows, errors, cache_hits, cache_misses, model_bytes)
        VALUES (fid, NEW.start_ms,
                CASE WHEN EXISTS (SELECT 1 FROM monitor_windows w WHERE w.grain = 2 AND w.rm_id = NEW.rm_id
                                  AND w.version <> NEW.version AND w.start_ms = NEW.start_ms) THEN 0 ELSE 1 END,
                NEW.requests, NEW.rows, errs, NEW.cache_hits, NEW.cache_misses, NEW.model_bytes)
        ON CONFLICT (family_id, day) DO UPDATE SET
            models = d.models + excluded.models, requests = d.requests + excluded.requests,
            rows = d.rows + excluded.rows, errors = d.errors + excluded.errors,
            cache_hits = d.cache_hits + excluded.cache_hits, cache_misses = d.cache_misses + excluded.cache_misses,
            model_bytes = d.model_bytes + excluded.model_bytes;
    ELSE
        INSERT INTO report_serving_days AS d
            (family_id, day, models, requests, rows, errors, cache_hits, cache_misses, model_bytes)
        VALUES (fid, NEW.start_ms, 0, NEW.requests - OLD.requests, NEW.rows - OLD.rows,
                errs - (OLD.errors_client + OLD.errors_unavailable + OLD.errors_too_large + OLD.errors_server),
                NEW.cache_hits - OLD.cache_hits, NEW.cache_misses - OLD.cache_misses,
                NEW.model_bytes - OLD.model_bytes)
        ON CONFLICT (family_id, day) DO UPDATE SET
            requests = d.requests + excluded.requests, rows = d.rows + excluded.rows,
            errors = d.errors + excluded.errors, cache_hits = d.cache_hits + excluded.cache_hits,
            cache_misses = d.cache_misses + excluded.cache_misses, model_bytes = d.model_bytes + excluded.model_bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_serving AFTER INSERT OR UPDATE ON monitor_windows
    FOR EACH ROW WHEN (NEW.grain = 2) EXECUTE FUNCTION report_serving();

-- What is there already.
INSERT INTO report_serving_days (family_id, day, models, requests, rows, errors, cache_hits, cache_misses, model_bytes)
SELECT coalesce(m.family_id, -1), w.start_ms, count(DISTINCT w.rm_id), sum(w.requests), sum(w.rows),
       sum(w.errors_client + w.errors_unavailable + w.errors_too_large + w.errors_server),
       sum(w.cache_hits), sum(w.cache_misses), sum(w.model_bytes)
FROM monitor_windows w LEFT JOIN fleet_members m ON m.rm_id = w.rm_id
WHERE w.grain = 2
GROUP BY 1, 2;
