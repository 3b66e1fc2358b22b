-- Latency objectives per family for the reports' serving section (SQLite's
-- `report_latency` of migration 24): the models' `latency_p99` health
-- (count, count and sum of values, how many warn or fail), kept by triggers
-- on that check's rows only, so a fleet's serving section reads a row per
-- family instead of every model's latency. A model counts in the family it
-- was in when its check was written (-1: in none).
CREATE TABLE report_latency (
    family_id BIGINT PRIMARY KEY,
    models    BIGINT NOT NULL DEFAULT 0,
    valued    BIGINT NOT NULL DEFAULT 0,           -- of which with a value
    total     DOUBLE PRECISION NOT NULL DEFAULT 0,
    warn      BIGINT NOT NULL DEFAULT 0,
    fail      BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION report_latency_moves() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rm BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.rm_id ELSE NEW.rm_id END;
    fid BIGINT := coalesce((SELECT family_id FROM fleet_members WHERE rm_id = rm), -1);
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE report_latency SET
            models = models - 1,
            valued = valued - (OLD.value IS NOT NULL)::int,
            total = total - coalesce(OLD.value, 0),
            warn = warn - (OLD.status = 'warn')::int,
            fail = fail - (OLD.status = 'fail')::int
        WHERE family_id = fid;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO report_latency AS l (family_id, models, valued, total, warn, fail)
        VALUES (fid, 1, (NEW.value IS NOT NULL)::int, coalesce(NEW.value, 0), (NEW.status = 'warn')::int,
                (NEW.status = 'fail')::int)
        ON CONFLICT (family_id) DO UPDATE SET
            models = l.models + 1, valued = l.valued + excluded.valued, total = l.total + excluded.total,
            warn = l.warn + excluded.warn, fail = l.fail + excluded.fail;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER report_latency_insert AFTER INSERT ON model_health
    FOR EACH ROW WHEN (NEW.check_name = 'latency_p99') EXECUTE FUNCTION report_latency_moves();
CREATE TRIGGER report_latency_update AFTER UPDATE ON model_health
    FOR EACH ROW WHEN (NEW.check_name = 'latency_p99') EXECUTE FUNCTION report_latency_moves();
CREATE TRIGGER report_latency_delete AFTER DELETE ON model_health
    FOR EACH ROW WHEN (OLD.check_name = 'latency_p99') EXECUTE FUNCTION report_latency_moves();

-- What is there already.
INSERT INTO report_latency (family_id, models, valued, total, warn, fail)
SELECT coalesce(m.family_id, -1), count(*), count(h.value), coalesce(sum(h.value), 0),
       count(*) FILTER (WHERE h.status = 'warn'), count(*) FILTER (WHERE h.status = 'fail')
FROM model_health h LEFT JOIN fleet_members m ON m.rm_id = h.rm_id
WHERE h.check_name = 'latency_p99'
GROUP BY 1;
