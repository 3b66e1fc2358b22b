-- Health roll-ups moved per batch, not per row (issue 15: the daily pass at
-- 10⁶ models). Migration 16's triggers moved `health_counts` once per
-- inserted or changed `model_health` row, four statements each; the
-- recording (`sqlite/health_write.rs`) now sums a batch's status changes
-- and moves each counter once. `model_health` is written only there.
-- Deletes (a model's cascade) and broken links keep their triggers.
DROP TRIGGER health_insert;
DROP TRIGGER health_update;
