-- The serving cache per window (as SQLite's migration 25): requests that
-- found their model in memory (hits), those that waited for its load
-- (misses), and the loaded model's measured bytes (the largest seen).
-- PostgreSQL 11+ adds a column with a constant default without rewriting
-- the table. The reports' per-family day sums are not ported here yet.
ALTER TABLE monitor_windows ADD COLUMN cache_hits BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monitor_windows ADD COLUMN cache_misses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monitor_windows ADD COLUMN model_bytes BIGINT NOT NULL DEFAULT 0;
